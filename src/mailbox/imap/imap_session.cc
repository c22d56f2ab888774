// The session loop, the command reader (lines and literals), the command
// table, the error budget, mailbox-name conversion and the short commands
// (CAPABILITY, NOOP, CHECK, LOGOUT, ID, ENABLE, NAMESPACE).
#include "mailbox/imap/imap_session.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "common/log.h"
#include "mailbox/imap/imap_utf7.h"
#include "mailbox/imap/session.h"

namespace corvus::imap {
namespace {

using S = ImapSession;

// Which commands exist, in which states, and whether EXPUNGE responses
// may follow them. Checked in one place, ImapSession::Dispatch().
// RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH
// (their UID forms are held to the same rule, which is always safe).
constexpr S::CommandSpec kCommands[] = {
    {"CAPABILITY", S::kAnyState | S::kExpungeOk, &S::CmdCapability},
    {"NOOP", S::kAnyState | S::kExpungeOk, &S::CmdNoop},
    {"LOGOUT", S::kAnyState, &S::CmdLogout},
    {"ID", S::kAnyState | S::kExpungeOk, &S::CmdId},
    {"STARTTLS", S::kNotAuth, &S::CmdStartTls},
    {"LOGIN", S::kNotAuth, &S::CmdLogin},
    {"AUTHENTICATE", S::kNotAuth, &S::CmdAuthenticate},
    {"ENABLE", S::kAuth, &S::CmdEnable},
    {"SELECT", S::kAuthed, &S::CmdSelect},
    {"EXAMINE", S::kAuthed, &S::CmdSelect},
    {"CREATE", S::kAuthed | S::kExpungeOk, &S::CmdCreate},
    {"DELETE", S::kAuthed | S::kExpungeOk, &S::CmdDelete},
    {"RENAME", S::kAuthed | S::kExpungeOk, &S::CmdRename},
    {"SUBSCRIBE", S::kAuthed | S::kExpungeOk, &S::CmdSubscribe},
    {"UNSUBSCRIBE", S::kAuthed | S::kExpungeOk, &S::CmdSubscribe},
    {"LIST", S::kAuthed | S::kExpungeOk, &S::CmdList},
    {"LSUB", S::kAuthed | S::kExpungeOk, &S::CmdList},
    {"STATUS", S::kAuthed | S::kExpungeOk, &S::CmdStatus},
    {"NAMESPACE", S::kAuthed | S::kExpungeOk, &S::CmdNamespace},
    {"APPEND", S::kAuthed | S::kExpungeOk, &S::CmdAppend},
    {"IDLE", S::kAuthed | S::kExpungeOk, &S::CmdIdle},
    {"GETQUOTA", S::kAuthed | S::kExpungeOk, &S::CmdGetQuota},
    {"GETQUOTAROOT", S::kAuthed | S::kExpungeOk, &S::CmdGetQuota},
    {"SETQUOTA", S::kAuthed | S::kExpungeOk, &S::CmdSetQuota},
    {"CHECK", S::kSelected | S::kExpungeOk, &S::CmdNoop},
    {"CLOSE", S::kSelected, &S::CmdClose},
    {"UNSELECT", S::kSelected, &S::CmdUnselect},
    {"EXPUNGE", S::kSelected | S::kExpungeOk | S::kUidForm, &S::CmdExpunge},
    {"SEARCH", S::kSelected | S::kUidForm, &S::CmdSearch},
    {"FETCH", S::kSelected | S::kUidForm, &S::CmdFetch},
    {"STORE", S::kSelected | S::kUidForm, &S::CmdStore},
    {"COPY", S::kSelected | S::kExpungeOk | S::kUidForm, &S::CmdCopy},
    {"MOVE", S::kSelected | S::kExpungeOk | S::kUidForm, &S::CmdCopy},
    // TODO(corvus): SORT/THREAD, METADATA and NOTIFY are missing;
    // clients sort and thread locally, paying for whole-mailbox fetches.
};

unsigned StateFlag(ImapState state) {
  switch (state) {
    case ImapState::kNotAuthenticated:
      return S::kNotAuth;
    case ImapState::kAuthenticated:
      return S::kAuth;
    case ImapState::kSelected:
      return S::kSelected;
    case ImapState::kLogout:
      return 0;
  }
  return 0;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

// Slack above max_literal_size for the command text around literals.
constexpr uint64_t kCommandSlack = 64 * 1024;

Task<void> RunShared(Connection& conn, std::shared_ptr<const ImapOptions> o,
                     std::shared_ptr<const ImapDependencies> d) {
  ImapSession session(conn, *o, *d);
  co_await session.Run();
}

}  // namespace

std::span<const ImapSession::CommandSpec> ImapCommandTable() {
  return std::span<const ImapSession::CommandSpec>(kCommands);
}

std::string_view ImapStateName(ImapState state) {
  switch (state) {
    case ImapState::kNotAuthenticated:
      return "not_authenticated";
    case ImapState::kAuthenticated:
      return "authenticated";
    case ImapState::kSelected:
      return "selected";
    case ImapState::kLogout:
      return "logout";
  }
  return "unknown";
}

std::string ImapQuote(std::string_view value, bool utf8) {
  bool quotable = std::all_of(value.begin(), value.end(), [utf8](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u >= 0x20 && u < 0x7f) || (utf8 && u >= 0x80);
  });
  if (!quotable) {
    return "{" + std::to_string(value.size()) + "}\r\n" + std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string FormatFlags(const std::vector<std::string>& flags) {
  std::string out = "(";
  for (size_t i = 0; i < flags.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out += flags[i];
  }
  out.push_back(')');
  return out;
}

std::string FormatNumberSet(std::vector<uint32_t> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string out;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out.push_back(',');
    out += std::to_string(values[i]);
    if (j > i) out += ":" + std::to_string(values[j]);
    i = j + 1;
  }
  return out;
}

Completion NameFailure(const Error& error) {
  if (error.code == ErrorCode::kProtocol) return Completion::Bad(error.message);
  return Completion::No("[CANNOT] Invalid mailbox name: " + error.message);
}

Completion StoreFailure(const Error& error) {
  if (IsOverQuota(error)) return Completion::No("[OVERQUOTA] Quota exceeded");
  switch (error.code) {
    case ErrorCode::kNotFound:
      return Completion::No("[NONEXISTENT] No such mailbox");
    case ErrorCode::kExists:
      return Completion::No("[ALREADYEXISTS] Mailbox already exists");
    case ErrorCode::kInvalid:
      return Completion::No("[CANNOT] " + error.message);
    case ErrorCode::kTemporary:
      return Completion::No("[UNAVAILABLE] Try again later");
    default:
      break;
  }
  return Completion::No("[SERVERBUG] Internal error");
}

Result<ImapOptions> ImapOptionsFromConfig(const Config& config) {
  ImapOptions options;
  options.hostname = config.server.hostname;
  options.max_line_length = static_cast<size_t>(config.limits.max_line_length);
  options.max_literal_size =
      static_cast<uint64_t>(config.smtp.max_message_size);
  options.plaintext_auth = config.auth.plaintext;
  return options;
}

Result<Handler> MakeImapHandler(ImapOptions options, ImapDependencies deps) {
  auto shared_options = std::make_shared<const ImapOptions>(std::move(options));
  auto shared_deps = std::make_shared<const ImapDependencies>(deps);
  return Handler([shared_options, shared_deps](Connection& conn) {
    return RunShared(conn, shared_options, shared_deps);
  });
}

ImapSession::ImapSession(Connection& conn, const ImapOptions& options,
                         const ImapDependencies& deps)
    : conn_(conn), options_(options), deps_(deps) {}

ImapSession::~ImapSession() = default;

Task<void> ImapSession::Run() {
  conn_.SetTimeout(options_.login_timeout);
  Untagged("OK [CAPABILITY " + Capabilities() + "] " + options_.hostname +
           " Corvus IMAP ready");
  co_await FlushNow();

  std::string buffer;
  while (!closing_) {
    if (!co_await ReadCommand(buffer)) break;
    int errors_before = errors_;
    if (!buffer.empty()) co_await Dispatch(buffer);
    if (closing_) break;

    if (errors_ >= options_.max_errors) {
      co_await Bye("Too many errors", "error limit");
      break;
    }
    // Slow down a client that keeps failing: cheap for a real client,
    // expensive for a password guesser.
    if (errors_ > errors_before && errors_ > options_.soft_error_limit &&
        options_.error_delay.count() > 0) {
      co_await FlushNow();
      co_await SleepFor(options_.error_delay);
    }
    if (!conn_.HasBufferedInput()) co_await FlushNow();
  }
  co_await FlushNow();
}

Task<bool> ImapSession::ReadCommand(std::string& buffer) {
  buffer.clear();
  uint64_t literal_limit = options_.max_small_literal_size;
  bool first = true;
  // Each round reads one line, and a literal if the line announces one;
  // the total is bounded below, so the loop is too.
  for (;;) {
    auto line = co_await conn_.ReadLine(options_.max_line_length);
    if (!line && line.error().code == ErrorCode::kProtocol) {
      // ReadLine dropped the rest of the line; the next read starts at
      // the next line, which the client means as a new command.
      conn_.NoteCommand("(overlong)");
      Tagged("*", Completion::Bad("Line too long"));
      buffer.clear();
      co_return true;
    }
    if (!line) {
      if (line.error().code == ErrorCode::kTemporary) {
        co_await Bye(conn_.stopping() ? "Server shutting down"
                                      : "Autologout; idle for too long",
                     line.error().message);
      } else {
        conn_.NoteCloseReason("client closed");
        closing_ = true;
      }
      co_return false;
    }
    if (first) {
      first = false;
      if (auto head = ParseCommand(*line); head && head->name == "APPEND") {
        literal_limit = options_.max_literal_size;
      }
    }
    buffer += *line;

    auto literal = TrailingLiteral(*line);
    if (!literal) co_return true;
    // The whole command is bounded too, so many small literals cannot
    // add up to more than one big one.
    bool too_big =
        literal->size > literal_limit ||
        buffer.size() + literal->size > literal_limit + kCommandSlack;
    if (too_big && !literal->non_synchronizing) {
      // RFC 9051 §7.1: the client waits for "+" before sending a
      // synchronising literal, so refusing it keeps us in step.
      Tagged(TagForError(buffer), Completion::No("[TOOBIG] Literal too large"));
      buffer.clear();
      co_return true;
    }
    if (too_big) {
      // RFC 7888 §4: the bytes of a non-synchronising literal are already
      // on their way and there is no way back in step; hang up.
      co_await Bye("[TOOBIG] Literal too large", "literal too large");
      co_return false;
    }
    if (!literal->non_synchronizing) {
      conn_.Queue("+ Ready for literal data\r\n");
      co_await FlushNow();
      if (closing_) co_return false;
    }
    auto data = co_await conn_.ReadExactly(literal->size);
    if (!data) {
      conn_.NoteCloseReason("client closed in literal");
      closing_ = true;
      co_return false;
    }
    buffer += *data;
  }
}

Task<void> ImapSession::Dispatch(std::string_view buffer) {
  auto command = ParseCommand(buffer);
  if (!command) {
    conn_.NoteCommand("(unparsable)");
    Tagged(TagForError(buffer), Completion::Bad(command.error().message));
    co_return;
  }
  std::string verb = command->uid ? "UID " + command->name : command->name;
  conn_.NoteCommand(verb);

  const CommandSpec* spec = nullptr;
  for (const CommandSpec& row : kCommands) {
    if (!row.name.empty() && row.name == command->name) spec = &row;
  }
  if (spec == nullptr || (command->uid && !(spec->flags & kUidForm))) {
    Tagged(command->tag, Completion::Bad("Unknown command"));
    co_return;
  }
  if ((spec->flags & StateFlag(state_)) == 0) {
    const char* why =
        state_ == ImapState::kNotAuthenticated
            ? "Log in first"
            : (state_ == ImapState::kAuthenticated ? "Select a mailbox first"
                                                   : "Not allowed now");
    Tagged(command->tag, Completion::Bad(why));
    co_return;
  }

  Completion completion = co_await (this->*spec->handler)(*command);
  if (skip_tagged_) {
    skip_tagged_ = false;
    co_return;
  }

  // Bring the client's view up to date before the tagged line, so that
  // what it says (e.g. [COPYUID] or an APPEND into the selected mailbox)
  // is already visible.
  if (!closing_ && state_ == ImapState::kSelected &&
      completion.kind != Completion::Kind::kBad) {
    co_await Sync((spec->flags & kExpungeOk) != 0, /*force=*/false);
  }
  Tagged(command->tag, completion);
}

void ImapSession::SetState(ImapState state) {
  if (state == state_) return;
  conn_.log().Debug("imap_state", {{"from", ImapStateName(state_)},
                                   {"to", ImapStateName(state)}});
  state_ = state;
}

void ImapSession::Untagged(std::string_view text) {
  conn_.Queue("* ");
  conn_.Queue(text);
  conn_.Queue("\r\n");
  unflushed_bytes_ += text.size() + 4;
}

void ImapSession::Tagged(const std::string& tag, const Completion& c) {
  std::string line = tag;
  switch (c.kind) {
    case Completion::Kind::kOk:
      line += " OK ";
      break;
    case Completion::Kind::kNo:
      line += " NO ";
      break;
    case Completion::Kind::kBad:
      line += " BAD ";
      ++errors_;
      break;
  }
  line += c.text;
  line += "\r\n";
  conn_.Queue(line);
  unflushed_bytes_ += line.size();
}

Task<void> ImapSession::FlushNow() {
  unflushed_bytes_ = 0;
  if (auto status = co_await conn_.Flush(); !status) {
    conn_.NoteCloseReason("write failed");
    closing_ = true;
  }
}

Task<void> ImapSession::FlushProgress() {
  if (unflushed_bytes_ < kProgressFlushBytes) co_return;
  co_await FlushNow();
}

Task<void> ImapSession::Bye(std::string_view text, std::string_view reason) {
  Untagged("BYE " + std::string(text));
  conn_.NoteCloseReason(reason);
  closing_ = true;
  co_await FlushNow();
}

bool ImapSession::PlaintextAuthAllowed() const {
  return corvus::PlaintextAuthAllowed(options_.plaintext_auth,
                                      conn_.is_tls(), conn_.peer_is_loopback());
}

std::string ImapSession::Capabilities() const {
  std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE";
  if (state_ == ImapState::kNotAuthenticated) {
    if (conn_.tls_available() && !conn_.is_tls()) caps += " STARTTLS";
    // RFC 3501 §6.2.3: LOGINDISABLED where LOGIN would be refused.
    caps += PlaintextAuthAllowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
    return caps;
  }
  caps +=
      " NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE LIST-EXTENDED"
      " LIST-STATUS CONDSTORE"
      " QRESYNC ESEARCH SEARCHRES BINARY MULTIAPPEND QUOTA QUOTA=RES-STORAGE"
      " UTF8=ACCEPT";
  return caps;
}

// --- Mailbox names -------------------------------------------------------

Result<std::string> ImapSession::ToStoreName(std::string_view wire) const {
  std::string name;
  if (utf8_enabled_) {
    if (!IsValidUtf8(wire)) {
      return Fail(ErrorCode::kInvalid, "mailbox name is not UTF-8");
    }
    name = std::string(wire);
  } else {
    auto decoded = DecodeMailboxName(wire);
    if (!decoded) return Fail(decoded.error());
    name = std::move(*decoded);
  }
  if (name.size() > 1 && name.back() == kHierarchyDelimiter) name.pop_back();
  // RFC 3501 §5.1: INBOX is case-insensitive, also as a parent.
  if (name.size() >= 5 && EqualsNoCase(name.substr(0, 5), kInbox) &&
      (name.size() == 5 || name[5] == kHierarchyDelimiter)) {
    name.replace(0, 5, kInbox);
  }
  if (name.empty()) return Fail(ErrorCode::kInvalid, "empty mailbox name");
  return name;
}

std::string ImapSession::ToWireName(std::string_view store_name) const {
  if (utf8_enabled_) return ImapQuote(store_name, /*utf8=*/true);
  auto encoded = EncodeMailboxName(store_name);
  // A name the store holds that does not encode (invalid UTF-8 from some
  // other path) is shown raw rather than hidden.
  return ImapQuote(encoded ? *encoded : std::string(store_name));
}

Result<std::string> ImapSession::ParseMailboxArg(ImapReader& reader) const {
  auto wire = reader.AString();
  if (!wire) return Fail(wire.error());
  return ToStoreName(*wire);
}

// --- Short commands ------------------------------------------------------

Task<Completion> ImapSession::CmdCapability(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("CAPABILITY takes no arguments");
  }
  Untagged("CAPABILITY " + Capabilities());
  co_return Completion::Ok("CAPABILITY completed");
}

Task<Completion> ImapSession::CmdNoop(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad(command.name + " takes no arguments");
  }
  // NOOP and CHECK are how clients poll: always re-read the store, even
  // if no Notify() was seen (a delivery path that forgot to call it).
  if (state_ == ImapState::kSelected) co_await Sync(true, /*force=*/true);
  co_return Completion::Ok(command.name + " completed");
}

Task<Completion> ImapSession::CmdLogout(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("LOGOUT takes no arguments");
  }
  Untagged("BYE Logging out");
  SetState(ImapState::kLogout);
  conn_.NoteCloseReason("logout");
  closing_ = true;
  co_return Completion::Ok("LOGOUT completed");
}

Task<Completion> ImapSession::CmdId(const ImapCommand& command) {
  // RFC 2971 §3.3: NIL or a list of at most 30 field/value pairs.
  ImapReader r(command.args);
  if (!r.ConsumeKeyword("NIL")) {
    if (!r.Consume('(')) co_return Completion::Bad("Invalid ID arguments");
    int pairs = 0;
    while (!r.Peek(')')) {
      auto field = r.String();
      if (!field || !r.Consume(' ')) {
        co_return Completion::Bad("Invalid ID arguments");
      }
      auto value = r.NString();
      if (!value || ++pairs > 30) {
        co_return Completion::Bad("Invalid ID arguments");
      }
      if (!r.Consume(' ')) break;
    }
    if (!r.Consume(')')) co_return Completion::Bad("Invalid ID arguments");
  }
  if (!r.AtEnd()) co_return Completion::Bad("Invalid ID arguments");
  Untagged("ID (\"name\" \"Corvus\" \"vendor\" \"Corvus\")");
  co_return Completion::Ok("ID completed");
}

Task<Completion> ImapSession::CmdEnable(const ImapCommand& command) {
  ImapReader r(command.args);
  std::string enabled;
  do {
    auto atom = r.Atom();
    if (!atom) co_return Completion::Bad("ENABLE needs capability names");
    std::string name = *atom;
    for (char& c : name) c = static_cast<char>(std::toupper(c));
    bool* flag = nullptr;
    if (name == "CONDSTORE") {
      flag = &condstore_enabled_;
    } else if (name == "QRESYNC") {
      flag = &qresync_enabled_;
      // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
      condstore_enabled_ = true;
    } else if (name == "UTF8=ACCEPT") {
      flag = &utf8_enabled_;
    }
    // RFC 5161 §3.1: unknown names are ignored, known ones reported once.
    if (flag != nullptr && !*flag) {
      *flag = true;
      enabled += " " + name;
    }
  } while (r.Consume(' '));
  if (!r.AtEnd()) co_return Completion::Bad("Invalid ENABLE arguments");
  Untagged("ENABLED" + enabled);
  co_return Completion::Ok("ENABLE completed");
}

Task<Completion> ImapSession::CmdNamespace(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("NAMESPACE takes no arguments");
  }
  Untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
  co_return Completion::Ok("NAMESPACE completed");
}

}  // namespace corvus::imap
