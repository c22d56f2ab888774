// mime_dump: prints, for each message file named on the command line,
// one JSON line with its ENVELOPE, BODY and BODYSTRUCTURE strings and
// its part tree (types, parameters, byte ranges, line counts, envelope
// fields). Used by mime_corpus_check.py; built only with the tests.
//
// Exit status: 0, or 1 if a file cannot be read.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "mime/header.h"
#include "mime/imap_render.h"
#include "mime/message.h"

namespace {

using nlohmann::json;
using namespace corvus::mime;

json OptionalString(const std::optional<std::string>& s) {
  return s ? json(*s) : json(nullptr);
}

json Addresses(const std::vector<Address>& list) {
  json out = json::array();
  for (const Address& a : list) {
    if (a.kind != Address::Kind::kMailbox) continue;
    out.push_back({{"name", a.name}, {"mailbox", a.mailbox}, {"host", a.host}});
  }
  return out;
}

json Tree(const Part& part) {
  json node = {
      {"type", part.type},
      {"subtype", part.subtype},
      {"header", {part.header.offset, part.header.length}},
      {"body", {part.body.offset, part.body.length}},
      {"lines", part.body_lines},
      {"flattened", part.flattened},
  };
  json params = json::object();
  for (const Param& p : part.params) {
    std::string name;
    for (char c : p.name) name += static_cast<char>(std::tolower(c));
    if (!params.contains(name)) params[name] = p.value;
  }
  // Structural parameters as the walker reads them (RFC 2231 resolved).
  for (const char* name : {"charset", "boundary"}) {
    if (auto v = ResolveParam(part.params, name)) params[name] = *v;
  }
  node["params"] = params;
  if (part.envelope) {
    const Envelope& e = *part.envelope;
    node["envelope"] = {
        {"date", OptionalString(e.date)},
        {"subject", OptionalString(e.subject)},
        {"from", Addresses(e.from)},
        {"to", Addresses(e.to)},
        {"cc", Addresses(e.cc)},
        {"message_id", OptionalString(e.message_id)},
    };
  }
  json children = json::array();
  for (const Part& child : part.children) children.push_back(Tree(child));
  node["children"] = children;
  return node;
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::cerr << "mime_dump: cannot read " << argv[i] << "\n";
      status = 1;
      continue;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string raw = buffer.str();
    Message m = ParseMessage(raw);
    json out = {
        {"file", argv[i]},
        {"size", raw.size()},
        {"truncated", m.truncated},
        {"envelope", ImapEnvelope(*m.root.envelope)},
        {"body", ImapBodyStructure(m.root, false)},
        {"bodystructure", ImapBodyStructure(m.root, true)},
        {"tree", Tree(m.root)},
    };
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
  }
  return status;
}
