#include "mta/queue/queue.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>

#include "mta/smtp/smtp_session.h"

namespace corvus {
namespace {

constexpr int kBusyTimeoutMs = 10000;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  id         TEXT PRIMARY KEY,
  sender     TEXT NOT NULL,
  created    INTEGER NOT NULL,
  size       INTEGER NOT NULL,
  client     TEXT NOT NULL,
  smtputf8   INTEGER NOT NULL,
  body_8bit  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bodies (
  message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  data       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
  message_id   TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  address      TEXT NOT NULL,
  original     TEXT NOT NULL,
  state        INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  last_error   TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (message_id, address)
);
CREATE INDEX IF NOT EXISTS recipients_due
  ON recipients (state, next_attempt);
)sql";

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Queue::PendingEnqueue {
  const QueuedMessage* message;
  std::string_view data;
};

std::string_view RecipientStateName(RecipientState state) {
  switch (state) {
    case RecipientState::kPending:
      return "pending";
    case RecipientState::kDelivered:
      return "delivered";
    case RecipientState::kFailed:
      return "failed";
  }
  return "unknown";
}

Queue::Queue(SqliteDb db) : db_(std::move(db)) {}
Queue::~Queue() = default;

Result<std::unique_ptr<Queue>> Queue::Open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return Fail(Error{ErrorCode::kIo, "cannot create queue folder: " +
                                          ec.message(),
                      {{"path", path.string()}}});
  }
  auto db = SqliteDb::Open(path / "queue.db", kBusyTimeoutMs);
  if (!db) return Fail(db.error());
  // FULL: a commit is on disk when it returns, which is what a 250 needs.
  if (auto s = db->Exec("PRAGMA journal_mode = WAL;"
                        "PRAGMA synchronous = FULL;");
      !s) {
    return Fail(s.error());
  }
  if (auto s = db->Exec(kSchema); !s) return Fail(s.error());
  return std::unique_ptr<Queue>(new Queue(std::move(*db)));
}

Result<std::string> Queue::Enqueue(QueuedMessage message,
                                   std::string_view data) {
  if (message.recipients.empty()) {
    return Fail(ErrorCode::kInvalid, "message has no recipients");
  }
  if (message.id.empty()) message.id = mta::NewQueueId();
  if (message.created == 0) message.created = NowSeconds();
  message.size = static_cast<int64_t>(data.size());
  PendingEnqueue request{&message, data};
  Status status = group_commit_.Submit(
      request, [this](const std::vector<const PendingEnqueue*>& batch) {
        std::vector<Status> statuses(batch.size(), CommitBatch(batch));
        if (!statuses[0] && batch.size() > 1) {
          // One bad message must not fail its neighbours: retry alone.
          for (size_t i = 0; i < batch.size(); ++i) {
            statuses[i] = CommitBatch({batch[i]});
          }
        }
        return statuses;
      });
  if (!status) return Fail(status.error());
  return message.id;
}

Status Queue::CommitBatch(const std::vector<const PendingEnqueue*>& batch) {
  std::lock_guard db_lock(db_mu_);
  auto tx = SqliteTransaction::Begin(db_);
  if (!tx) return Fail(tx.error());
  auto insert_message = db_.Cached(
      "INSERT INTO messages (id, sender, created, size, client, smtputf8,"
      " body_8bit) VALUES (?, ?, ?, ?, ?, ?, ?)");
  auto insert_body =
      db_.Cached("INSERT INTO bodies (message_id, data) VALUES (?, ?)");
  auto insert_rcpt = db_.Cached(
      "INSERT OR IGNORE INTO recipients (message_id, address, original,"
      " state, next_attempt) VALUES (?, ?, ?, 0, ?)");
  if (!insert_message) return Fail(insert_message.error());
  if (!insert_body) return Fail(insert_body.error());
  if (!insert_rcpt) return Fail(insert_rcpt.error());

  for (const PendingEnqueue* pending : batch) {
    const QueuedMessage& m = *pending->message;
    SqliteStatement& im = **insert_message;
    im.Reset();
    im.Bind(1, m.id).Bind(2, m.sender).Bind(3, m.created).Bind(4, m.size);
    im.Bind(5, m.client).Bind(6, int64_t{m.smtputf8});
    im.Bind(7, int64_t{m.body_8bit});
    if (auto s = im.Run(); !s) return s;
    SqliteStatement& body = **insert_body;
    body.Reset();
    if (auto s = body.Bind(1, m.id).BindBlob(2, pending->data).Run(); !s) {
      return s;
    }
    SqliteStatement& rcpt = **insert_rcpt;
    for (const QueueRecipient& r : m.recipients) {
      rcpt.Reset();
      rcpt.Bind(1, m.id).Bind(2, r.address).Bind(3, r.original);
      if (auto s = rcpt.Bind(4, m.created).Run(); !s) return s;
    }
  }
  return tx->Commit();
}

Result<std::vector<QueueRecipient>> Queue::LoadRecipients(
    std::string_view id, bool due_only, int64_t now) {
  std::string sql =
      "SELECT address, original, state, attempts, next_attempt, last_error"
      " FROM recipients WHERE message_id = ?";
  if (due_only) sql += " AND state = 0 AND next_attempt <= ?";
  auto cached = db_.Cached(sql + " ORDER BY rowid");
  if (!cached) return Fail(cached.error());
  SqliteStatement* stmt = &**cached;
  stmt->Bind(1, id);
  if (due_only) stmt->Bind(2, now);
  std::vector<QueueRecipient> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    QueueRecipient r;
    r.address = stmt->ColumnText(0);
    r.original = stmt->ColumnText(1);
    r.state = static_cast<RecipientState>(stmt->ColumnInt(2));
    r.attempts = static_cast<int>(stmt->ColumnInt(3));
    r.next_attempt = stmt->ColumnInt(4);
    r.last_error = stmt->ColumnText(5);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// Reads the messages-table columns of the current row into `m`.
void ReadMessageRow(const SqliteStatement& stmt, QueuedMessage& m) {
  m.id = stmt.ColumnText(0);
  m.sender = stmt.ColumnText(1);
  m.created = stmt.ColumnInt(2);
  m.size = stmt.ColumnInt(3);
  m.client = stmt.ColumnText(4);
  m.smtputf8 = stmt.ColumnInt(5) != 0;
  m.body_8bit = stmt.ColumnInt(6) != 0;
}

constexpr char kMessageColumns[] =
    "SELECT id, sender, created, size, client, smtputf8, body_8bit"
    " FROM messages";

}  // namespace

Result<std::vector<QueuedMessage>> Queue::Due(
    int64_t now, int limit, const std::set<std::string>& skip) {
  std::lock_guard db_lock(db_mu_);
  auto ids = db_.Cached(
      "SELECT message_id, min(next_attempt) AS due FROM recipients"
      " WHERE state = 0 AND next_attempt <= ? GROUP BY message_id"
      " ORDER BY due, message_id LIMIT ?");
  if (!ids) return Fail(ids.error());
  (*ids)->Bind(1, now).Bind(2, static_cast<int64_t>(limit + skip.size()));
  std::vector<std::string> due_ids;
  for (;;) {
    auto row = (*ids)->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    std::string id = (*ids)->ColumnText(0);
    if (skip.contains(id)) continue;
    if (static_cast<int>(due_ids.size()) < limit) due_ids.push_back(id);
  }

  std::vector<QueuedMessage> out;
  auto stmt = db_.Cached(std::string(kMessageColumns) + " WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  for (const std::string& id : due_ids) {
    (*stmt)->Reset();
    auto row = (*stmt)->Bind(1, id).Step();
    if (!row) return Fail(row.error());
    if (!*row) continue;
    QueuedMessage m;
    ReadMessageRow(**stmt, m);
    auto recipients = LoadRecipients(id, true, now);
    if (!recipients) return Fail(recipients.error());
    m.recipients = std::move(*recipients);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::optional<int64_t>> Queue::NextDue() {
  std::lock_guard db_lock(db_mu_);
  auto stmt =
      db_.Prepare("SELECT min(next_attempt) FROM recipients WHERE state = 0");
  if (!stmt) return Fail(stmt.error());
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row || stmt->ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt->ColumnInt(0));
}

Result<std::string> Queue::ReadData(std::string_view id) {
  std::lock_guard db_lock(db_mu_);
  auto stmt = db_.Cached("SELECT data FROM bodies WHERE message_id = ?");
  if (!stmt) return Fail(stmt.error());
  auto row = (*stmt)->Bind(1, id).Step();
  if (!row) return Fail(row.error());
  if (!*row) {
    return Fail(Error{ErrorCode::kNotFound, "no such queued message",
                      {{"queue_id", std::string(id)}}});
  }
  return (*stmt)->ColumnText(0);
}

Result<QueuedMessage> Queue::Get(std::string_view id) {
  std::lock_guard db_lock(db_mu_);
  auto stmt = db_.Prepare(std::string(kMessageColumns) + " WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  auto row = stmt->Bind(1, id).Step();
  if (!row) return Fail(row.error());
  if (!*row) {
    return Fail(Error{ErrorCode::kNotFound, "no such queued message",
                      {{"queue_id", std::string(id)}}});
  }
  QueuedMessage m;
  ReadMessageRow(*stmt, m);
  auto recipients = LoadRecipients(id, false, 0);
  if (!recipients) return Fail(recipients.error());
  m.recipients = std::move(*recipients);
  return m;
}

Result<std::vector<QueuedMessage>> Queue::List() {
  std::vector<std::string> ids;
  {
    std::lock_guard db_lock(db_mu_);
    auto stmt = db_.Prepare("SELECT id FROM messages ORDER BY created, id");
    if (!stmt) return Fail(stmt.error());
    for (;;) {
      auto row = stmt->Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      ids.push_back(stmt->ColumnText(0));
    }
  }
  std::vector<QueuedMessage> out;
  for (const std::string& id : ids) {
    auto m = Get(id);
    if (!m && m.error().code == ErrorCode::kNotFound) continue;  // just left
    if (!m) return Fail(m.error());
    out.push_back(std::move(*m));
  }
  return out;
}

Status Queue::MarkDelivered(std::string_view id, std::string_view address,
                            std::string_view reply) {
  return Update({{std::string(id), std::string(address),
                  RecipientState::kDelivered, std::string(reply), {}}});
}

Status Queue::MarkDeferred(std::string_view id, std::string_view address,
                           std::string_view reply, int64_t next_attempt) {
  return Update({{std::string(id), std::string(address),
                  RecipientState::kPending, std::string(reply),
                  next_attempt}});
}

Status Queue::MarkFailed(std::string_view id, std::string_view address,
                         std::string_view reply) {
  return Update({{std::string(id), std::string(address),
                  RecipientState::kFailed, std::string(reply), {}}});
}

Status Queue::Update(const std::vector<RecipientUpdate>& updates) {
  return update_commit_.Submit(
      updates,
      [this](const std::vector<const std::vector<RecipientUpdate>*>& batch) {
        return CommitUpdates(batch);
      });
}

std::vector<Status> Queue::CommitUpdates(
    const std::vector<const std::vector<RecipientUpdate>*>& batch) {
  std::lock_guard db_lock(db_mu_);
  auto fail_all = [&](const Error& error) {
    return std::vector<Status>(batch.size(), Fail(error));
  };
  auto tx = SqliteTransaction::Begin(db_);
  if (!tx) return fail_all(tx.error());
  auto update = db_.Cached(
      "UPDATE recipients SET state = ?, attempts = attempts + 1,"
      " last_error = ?, next_attempt = coalesce(?, next_attempt)"
      " WHERE message_id = ? AND address = ?");
  auto pending = db_.Cached(
      "SELECT count(*) FROM recipients WHERE message_id = ? AND state = 0");
  auto remove = db_.Cached("DELETE FROM messages WHERE id = ?");
  if (!update) return fail_all(update.error());
  if (!pending) return fail_all(pending.error());
  if (!remove) return fail_all(remove.error());

  std::vector<Status> statuses(batch.size());
  std::set<std::string> touched;
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const RecipientUpdate& u : *batch[i]) {
      (*update)->Reset();
      (*update)->Bind(1, static_cast<int64_t>(u.state)).Bind(2, u.reply);
      if (u.next_attempt) (*update)->Bind(3, *u.next_attempt);
      if (auto s = (*update)->Bind(4, u.id).Bind(5, u.address).Run(); !s) {
        return fail_all(s.error());
      }
      if ((*update)->Changes() == 0) {
        statuses[i] = Fail(Error{ErrorCode::kNotFound,
                                 "no such queued recipient",
                                 {{"queue_id", u.id}, {"to", u.address}}});
      }
      touched.insert(u.id);
    }
  }

  // A message leaves the queue with its last pending recipient.
  for (const std::string& id : touched) {
    (*pending)->Reset();
    auto row = (*pending)->Bind(1, id).Step();
    if (!row) return fail_all(row.error());
    if ((*pending)->ColumnInt(0) > 0) continue;
    (*remove)->Reset();
    if (auto s = (*remove)->Bind(1, id).Run(); !s) return fail_all(s.error());
  }
  if (auto s = tx->Commit(); !s) return fail_all(s.error());
  return statuses;
}

Result<int64_t> Queue::FlushAll() {
  std::lock_guard db_lock(db_mu_);
  auto stmt = db_.Prepare(
      "UPDATE recipients SET next_attempt = 0 WHERE state = 0");
  if (!stmt) return Fail(stmt.error());
  if (auto s = stmt->Run(); !s) return Fail(s.error());
  return stmt->Changes();
}

Status Queue::Delete(std::string_view id) {
  std::lock_guard db_lock(db_mu_);
  auto stmt = db_.Prepare("DELETE FROM messages WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  if (auto s = stmt->Bind(1, id).Run(); !s) return s;
  if (stmt->Changes() == 0) {
    return Fail(Error{ErrorCode::kNotFound, "no such queued message",
                      {{"queue_id", std::string(id)}}});
  }
  return {};
}

}  // namespace corvus
