// libFuzzer target for corvus_mime: parses arbitrary bytes, renders
// ENVELOPE/BODY/BODYSTRUCTURE, and extracts every section of every part,
// checking that extracted ranges stay inside the input and that the
// quick header scan agrees with the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mime/imap_render.h"
#include "mime/message.h"
#include "mime/section.h"

namespace {

using namespace corvus::mime;

void CheckRange(std::string_view raw, ByteRange r) {
  if (r.offset > raw.size() || r.length > raw.size() - r.offset) abort();
}

// Walks the tree, extracting the sections a client could ask for.
void Visit(std::string_view raw, const Message& m, const Part& part,
           const std::string& path, int budget) {
  CheckRange(raw, part.header);
  CheckRange(raw, part.body);
  if (budget <= 0) return;
  static const char* const kSuffixes[] = {"",
                                          ".MIME",
                                          ".HEADER",
                                          ".TEXT",
                                          ".HEADER.FIELDS (From Subject)",
                                          ".HEADER.FIELDS.NOT (Content-Type)"};
  for (const char* suffix : kSuffixes) {
    std::string section = path + suffix;
    if (path.empty() && section.starts_with('.')) section.erase(0, 1);
    auto got = ExtractSection(raw, m, section);
    if (got && !got->built) CheckRange(raw, got->range);
  }
  const Part* body = &part;
  if (part.IsMessage()) body = &part.children[0];
  if (!body->IsMultipart()) return;
  for (size_t i = 0; i < body->children.size() && i < 8; ++i) {
    std::string child = path.empty() ? "" : path + ".";
    child += std::to_string(i + 1);
    Visit(raw, m, body->children[i], child, budget - 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  Message m = ParseMessage(raw);
  std::string body = ImapBodyStructure(m.root, false);
  std::string structure = ImapBodyStructure(m.root, true);
  std::string envelope = ImapEnvelope(*m.root.envelope);
  if (body.empty() || structure.empty() || envelope.empty()) abort();
  Visit(raw, m, m.root, "", 6);
  // The header search cache is filled by the quick scan; it must find
  // exactly the header block the parser found.
  ByteRange quick = MessageHeaderRange(raw);
  if (quick.offset != m.root.header.offset ||
      quick.length != m.root.header.length) {
    abort();
  }
  return 0;
}
