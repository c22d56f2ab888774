// The IMAP session state machine, shared by imap_session.cc and the
// per-command files (cmd_*.cc). Internal to corvus_imap.
//
// A command handler parses its arguments, does its work (store calls go
// through Offload()), queues its untagged responses and returns a
// Completion. Dispatch() — the one place that checks the command table's
// state flags — then brings the client's view of the selected mailbox up
// to date (with or without expunges, per the table) and writes the tagged
// line. Handlers never write tagged lines themselves, except STARTTLS,
// whose OK must go out in the clear before the handshake (it sets
// skip_tagged_).
//
// The selected mailbox view. `messages_` maps the client's message
// sequence numbers to UIDs, and `highest_modseq_` says up to which modseq
// the client has been told of changes; flags and modseqs are not copied
// per session but read from the store when needed (an IDLE session costs
// a few bytes per run of UIDs, not per message). The view changes only
// in Sync() (new messages, expunges reported when allowed, flag changes
// read as ChangesSince(highest_modseq_)) and in MOVE (messages this
// session moved away). Expunges seen while they may not be reported wait
// in `pending_expunges_`; the messages keep their sequence numbers.
// Flags this session has already shown the client (its own STORE and
// FETCH \Seen changes) are remembered in `flags_shown_` until the next
// Sync(), so that Sync() does not report them again.
//
// g++ 12 destroys aggregate temporaries inside a co_await expression
// twice, so values passed to coroutines are built in named locals first.
//
// Thread safety: a session belongs to its connection's event loop.
#ifndef CORVUS_MAILBOX_IMAP_SESSION_H_
#define CORVUS_MAILBOX_IMAP_SESSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.h"
#include "mailbox/imap/imap_parser.h"
#include "mailbox/imap/imap_session.h"
#include "mailbox/imap/sequence_map.h"

namespace corvus::imap {

enum class ImapState { kNotAuthenticated, kAuthenticated, kSelected, kLogout };

std::string_view ImapStateName(ImapState state);

// How a command ended: the tagged response.
struct Completion {
  enum class Kind { kOk, kNo, kBad };
  Completion(Kind k, std::string t) : kind(k), text(std::move(t)) {}
  static Completion Ok(std::string text) {
    return {Kind::kOk, std::move(text)};
  }
  static Completion No(std::string text) {
    return {Kind::kNo, std::move(text)};
  }
  static Completion Bad(std::string text) {
    return {Kind::kBad, std::move(text)};
  }
  Kind kind;
  std::string text;  // may start with a response code, "[TRYCREATE] ..."
};

// Quotes `value` as an IMAP string: a quoted string when it can be one,
// else a literal. With `utf8` (RFC 6855 UTF8=ACCEPT), 8-bit bytes may
// be quoted too.
std::string ImapQuote(std::string_view value, bool utf8 = false);

// The tagged reply for a mailbox-name argument that failed: BAD for
// syntax, NO [CANNOT] for a name that parses but is not valid.
Completion NameFailure(const Error& error);

// "(\Seen \Flagged)".
std::string FormatFlags(const std::vector<std::string>& flags);

// The tagged NO for a failed store call: a response code from the error
// category ([NONEXISTENT], [ALREADYEXISTS], [CANNOT], [OVERQUOTA] ...).
Completion StoreFailure(const Error& error);

// The UidSet of ascending `uids`.
UidSet ToUidSet(const std::vector<uint32_t>& uids);

// "1:3,7" for `values`, in any order.
std::string FormatNumberSet(std::vector<uint32_t> values);

class ImapSession {
 public:
  ImapSession(Connection& conn, const ImapOptions& options,
              const ImapDependencies& deps);
  ~ImapSession();

  // Greets and serves commands until LOGOUT, the error budget, a timeout,
  // shutdown or a lost connection.
  Task<void> Run();

  using CommandHandler = Task<Completion> (ImapSession::*)(const ImapCommand&);

  struct CommandSpec {
    std::string_view name;
    unsigned flags;
    CommandHandler handler;
  };
  // Flags of CommandSpec: where a command is allowed and what may follow.
  static constexpr unsigned kNotAuth = 1 << 0;
  static constexpr unsigned kAuth = 1 << 1;
  static constexpr unsigned kSelected = 1 << 2;
  static constexpr unsigned kAnyState = kNotAuth | kAuth | kSelected;
  static constexpr unsigned kAuthed = kAuth | kSelected;
  // RFC 3501 §7.4.1: EXPUNGE may be sent after this command.
  static constexpr unsigned kExpungeOk = 1 << 3;
  static constexpr unsigned kUidForm = 1 << 4;  // "UID <name>" exists

  // Handlers. imap_session.cc holds the short ones.
  Task<Completion> CmdCapability(const ImapCommand& command);
  Task<Completion> CmdNoop(const ImapCommand& command);  // NOOP, CHECK
  Task<Completion> CmdLogout(const ImapCommand& command);
  Task<Completion> CmdId(const ImapCommand& command);
  Task<Completion> CmdEnable(const ImapCommand& command);
  Task<Completion> CmdNamespace(const ImapCommand& command);
  // cmd_auth.cc
  Task<Completion> CmdStartTls(const ImapCommand& command);
  Task<Completion> CmdLogin(const ImapCommand& command);
  Task<Completion> CmdAuthenticate(const ImapCommand& command);
  // cmd_select.cc
  Task<Completion> CmdSelect(const ImapCommand& command);  // and EXAMINE
  Task<Completion> CmdClose(const ImapCommand& command);
  Task<Completion> CmdUnselect(const ImapCommand& command);
  // cmd_mailbox.cc
  Task<Completion> CmdCreate(const ImapCommand& command);
  Task<Completion> CmdDelete(const ImapCommand& command);
  Task<Completion> CmdRename(const ImapCommand& command);
  Task<Completion> CmdSubscribe(const ImapCommand& command);  // and UNSUB.
  Task<Completion> CmdList(const ImapCommand& command);       // and LSUB
  Task<Completion> CmdStatus(const ImapCommand& command);
  // cmd_append.cc
  Task<Completion> CmdAppend(const ImapCommand& command);
  // cmd_fetch.cc
  Task<Completion> CmdFetch(const ImapCommand& command);
  // cmd_store.cc
  Task<Completion> CmdStore(const ImapCommand& command);
  // cmd_search.cc
  Task<Completion> CmdSearch(const ImapCommand& command);
  // cmd_copy.cc
  Task<Completion> CmdCopy(const ImapCommand& command);  // and MOVE
  Task<Completion> CmdExpunge(const ImapCommand& command);
  // cmd_idle.cc
  Task<Completion> CmdIdle(const ImapCommand& command);
  // cmd_quota.cc
  Task<Completion> CmdGetQuota(const ImapCommand& command);  // + QUOTAROOT
  Task<Completion> CmdSetQuota(const ImapCommand& command);

 private:
  // --- imap_session.cc ---
  // Reads one whole command (lines and literals) into `buffer`. Returns
  // false when the session must end; on a refused literal, queues the
  // refusal and returns true with `buffer` empty.
  Task<bool> ReadCommand(std::string& buffer);
  Task<void> Dispatch(std::string_view buffer);
  void SetState(ImapState state);
  // Queues "* text\r\n".
  void Untagged(std::string_view text);
  // Queues the tagged line and counts errors.
  void Tagged(const std::string& tag, const Completion& completion);
  Task<void> FlushNow();
  // Sends what a long response has queued once it reaches
  // kProgressFlushBytes, so that it streams instead of piling up in
  // memory, in writes big enough to be cheap.
  Task<void> FlushProgress();
  static constexpr size_t kProgressFlushBytes = 64 * 1024;
  Task<void> Bye(std::string_view text, std::string_view reason);

  std::string Capabilities() const;
  bool PlaintextAuthAllowed() const;

  // --- cmd_auth.cc ---
  // Checks the password and, on success, enters the authenticated state.
  Task<Completion> Login(std::string_view user, std::string_view password,
                         std::string_view mechanism);

  // --- mailbox names ---
  // The store's UTF-8 name for the name a client sent: modified UTF-7
  // decoded (unless UTF8=ACCEPT), INBOX case folded, trailing delimiter
  // dropped. kInvalid for a bad name.
  Result<std::string> ToStoreName(std::string_view wire) const;
  // The name as the client should see it, quoted.
  std::string ToWireName(std::string_view store_name) const;

  // --- the selected mailbox (cmd_select.cc) ---
  // Re-reads the mailbox and reports changes. With `allow_expunge`,
  // reports expunges (pending ones included) and drops those messages.
  // With `force`, reads even if no Notify() was seen.
  Task<void> Sync(bool allow_expunge, bool force);
  void Deselect();
  // Resolves a sequence set (or UID set if `uid`) against messages_ into
  // UIDs present, ascending. kProtocol for a sequence number that does
  // not exist (RFC 9051 §6.4.4: BAD).
  Result<std::vector<uint32_t>> ResolveSet(const SequenceSet& set, bool uid);
  // The untagged FETCH of the flags (and, with CONDSTORE, the modseq) of
  // message `seq`, as the store gave them.
  std::string FlagsFetch(uint32_t seq, uint32_t uid,
                         const std::vector<std::string>& flags, uint64_t modseq,
                         bool with_uid) const;
  // Notes that the client has seen the flags of `uid` as of `modseq`.
  void FlagsShown(uint32_t uid, uint64_t modseq);
  // Runs `work` with the account's store on the blocking pool.
  Task<Status> WithAccount(std::function<Status(AccountStore&)> work);
  void NotifyChange();

  // The mailbox names the client can use (LIST helpers, cmd_mailbox.cc).
  Result<std::string> ParseMailboxArg(ImapReader& reader) const;

  Connection& conn_;
  const ImapOptions& options_;
  const ImapDependencies& deps_;

  ImapState state_ = ImapState::kNotAuthenticated;
  int errors_ = 0;
  bool closing_ = false;
  // Set by a handler that wrote its own tagged line (STARTTLS).
  bool skip_tagged_ = false;
  // Bytes queued by Untagged()/Tagged() since the last FlushNow().
  size_t unflushed_bytes_ = 0;

  Account account_;
  std::unique_ptr<AccountEvents::Subscription> events_;
  uint64_t seen_generation_ = 0;
  bool utf8_enabled_ = false;
  bool condstore_enabled_ = false;
  bool qresync_enabled_ = false;

  // The selected mailbox.
  std::string folder_;
  bool read_only_ = false;
  uint32_t uidvalidity_ = 0;
  uint64_t highest_modseq_ = 0;
  SequenceMap messages_;
  std::set<uint32_t> pending_expunges_;
  std::map<uint32_t, uint64_t> flags_shown_;  // UID -> modseq
  uint32_t recent_ = 0;
  std::vector<uint32_t> saved_search_;  // RFC 5182 "$", UIDs
};

// The command table's accessor for tests of the table itself.
std::span<const ImapSession::CommandSpec> ImapCommandTable();

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_SESSION_H_
