// Tests for the SQLite directory backend through the Directory interface.
#include "directory/sqlite_directory.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "directory/directory_factory.h"
#include "directory/password.h"

namespace corvus {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (fs::temp_directory_path() / "corvus-dir-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> Addresses(const std::vector<Account>& accounts) {
  std::vector<std::string> out;
  for (const Account& a : accounts) out.push_back(a.address);
  return out;
}

using Strings = std::vector<std::string>;

class SqliteDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    auto opened = SqliteDirectory::Open(db_path());
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    dir_ = std::move(*opened);
    ASSERT_TRUE(dir_->CreateDomain("example.com"));
    ASSERT_TRUE(dir_->CreateDomain("example.org"));
  }

  fs::path db_path() const { return tmp_.path() / "directory.db"; }

  Account MustCreate(const std::string& address,
                     const std::string& password = "") {
    Account account;
    account.address = address;
    if (!password.empty()) account.password_hash = *HashPassword(password);
    auto created = dir_->CreateAccount(account);
    EXPECT_TRUE(created.has_value())
        << address << ": " << created.error().ToString();
    return created.value_or(Account{});
  }

  // Runs SQL on the file behind the directory's back, as a broken tool
  // or an old bug might.
  void RawSql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  TempDir tmp_;
  std::unique_ptr<Directory> dir_;
};

// ---- Domains ----

TEST_F(SqliteDirectoryTest, CreatesListsAndDeletesDomains) {
  ASSERT_TRUE(dir_->CreateDomain("Mail.Example.NET"));
  auto domains = dir_->ListDomains();
  ASSERT_TRUE(domains.has_value());
  Strings names;
  for (const Domain& d : *domains) {
    names.push_back(d.name);
    EXPECT_GT(d.created, 0) << d.name;
  }
  EXPECT_EQ(names, (Strings{"example.com", "example.org", "mail.example.net"}));

  EXPECT_EQ(dir_->IsLocalDomain("MAIL.example.net"), true);
  ASSERT_TRUE(dir_->DeleteDomain("mail.example.net"));
  EXPECT_EQ(dir_->IsLocalDomain("mail.example.net"), false);
}

TEST_F(SqliteDirectoryTest, DomainErrorPaths) {
  struct Case {
    const char* name;
    Status got;
    ErrorCode want;
  };
  MustCreate("user@example.org");
  ASSERT_TRUE(dir_->CreateAlias(Alias{"alias@example.com", {"x@remote.net"}}));
  ASSERT_TRUE(dir_->CreateDomain("empty.example"));
  const Case cases[] = {
      {"CreateDuplicate", dir_->CreateDomain("EXAMPLE.com"),
       ErrorCode::kExists},
      {"CreateBadName", dir_->CreateDomain("bad_domain.com"),
       ErrorCode::kInvalid},
      {"CreateSingleLabel", dir_->CreateDomain("example"), ErrorCode::kInvalid},
      {"DeleteUnknown", dir_->DeleteDomain("nowhere.example"),
       ErrorCode::kNotFound},
      {"DeleteBadName", dir_->DeleteDomain("-x.com"), ErrorCode::kInvalid},
      {"DeleteWithAccount", dir_->DeleteDomain("example.org"),
       ErrorCode::kInvalid},
      {"DeleteWithAlias", dir_->DeleteDomain("example.com"),
       ErrorCode::kInvalid},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(c.got.has_value()) << c.name << ": succeeded, want error";
    EXPECT_EQ(c.got.error().code, c.want)
        << c.name << ": got " << ErrorCodeName(c.got.error().code) << " ("
        << c.got.error().ToString() << "), want " << ErrorCodeName(c.want);
  }
  auto in_use = dir_->DeleteDomain("example.org");
  EXPECT_EQ(in_use.error().message, "domain still in use");
  EXPECT_EQ(dir_->IsLocalDomain("example.org"), true)
      << "a refused delete must leave the domain in place";
  EXPECT_FALSE(dir_->IsLocalDomain("not a domain").has_value());
  EXPECT_TRUE(dir_->DeleteDomain("empty.example"));
}

// ---- Accounts ----

TEST_F(SqliteDirectoryTest, CreateAccountFillsIdAndNormalisesAddress) {
  Account in;
  in.address = "  <Alice.Smith@EXAMPLE.com> ";
  in.display_name = "Alice Smith";
  in.quota_bytes = 1 << 30;
  in.home_server = "mbox-1";
  auto created = dir_->CreateAccount(in);
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->address, "alice.smith@example.com");
  EXPECT_EQ(created->id.size(), 32u);
  EXPECT_TRUE(std::all_of(
      created->id.begin(), created->id.end(),
      [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
      << "id " << created->id << " is not lower-case hex";
  EXPECT_GT(created->created, 0);

  auto other = MustCreate("bob@example.com");
  EXPECT_NE(other.id, created->id);

  auto got = dir_->GetAccount("ALICE.smith@example.COM");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->id, created->id);
  EXPECT_EQ(got->display_name, "Alice Smith");
  EXPECT_EQ(got->quota_bytes, 1 << 30);
  EXPECT_EQ(got->home_server, "mbox-1");
  EXPECT_EQ(got->status, AccountStatus::kActive);

  for (const std::string& key : {created->id, [&] {
                                   std::string upper = created->id;
                                   std::transform(upper.begin(), upper.end(),
                                                  upper.begin(), ::toupper);
                                   return upper;
                                 }()}) {
    auto by_id = dir_->GetAccount(key);
    ASSERT_TRUE(by_id.has_value()) << key;
    EXPECT_EQ(by_id->address, "alice.smith@example.com");
  }
}

TEST_F(SqliteDirectoryTest, AccountErrorPaths) {
  MustCreate("taken@example.com");
  ASSERT_TRUE(dir_->CreateAlias(Alias{"alias@example.com", {"a@remote.net"}}));
  ASSERT_TRUE(dir_->CreateList(MailingList{"list@example.com", {}}));
  struct Case {
    const char* name;
    Account account;
    ErrorCode want;
  };
  auto with = [](std::string address, auto mutate) {
    Account a;
    a.address = std::move(address);
    mutate(a);
    return a;
  };
  auto plain = [&](std::string address) {
    return with(std::move(address), [](Account&) {});
  };
  const Case cases[] = {
      {"BadAddress", plain("no-at-sign"), ErrorCode::kInvalid},
      {"UnknownDomain", plain("a@nowhere.example"), ErrorCode::kNotFound},
      {"DuplicateAccount", plain("TAKEN@example.com"), ErrorCode::kExists},
      {"AddressIsAlias", plain("alias@example.com"), ErrorCode::kExists},
      {"AddressIsList", plain("list@example.com"), ErrorCode::kExists},
      {"NegativeQuota",
       with("q@example.com", [](Account& a) { a.quota_bytes = -1; }),
       ErrorCode::kInvalid},
      {"ControlCharInName",
       with("c@example.com", [](Account& a) { a.display_name = "a\nb"; }),
       ErrorCode::kInvalid},
      {"HashWithSpace",
       with("h@example.com", [](Account& a) { a.password_hash = "$y$ x"; }),
       ErrorCode::kInvalid},
      {"BadHomeServer",
       with("s@example.com", [](Account& a) { a.home_server = "a b"; }),
       ErrorCode::kInvalid},
  };
  for (const Case& c : cases) {
    auto got = dir_->CreateAccount(c.account);
    ASSERT_FALSE(got.has_value()) << c.name << ": created, want error";
    EXPECT_EQ(got.error().code, c.want)
        << c.name << ": got " << got.error().ToString() << ", want "
        << ErrorCodeName(c.want);
  }
  // Nothing half-made: only the one account exists.
  auto all = dir_->ListAccounts(std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(Addresses(*all), Strings{"taken@example.com"});

  EXPECT_EQ(dir_->GetAccount("nobody@example.com").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(dir_->GetAccount("0123456789abcdef0123456789abcdef").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(dir_->GetAccount("not an address").error().code,
            ErrorCode::kInvalid);
  EXPECT_EQ(dir_->DeleteAccount("nobody@example.com").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(dir_->DeleteAccount("alias@example.com").error().code,
            ErrorCode::kNotFound)
      << "DeleteAccount must not delete an alias";
  EXPECT_EQ(dir_->ListAccounts("nowhere.example").error().code,
            ErrorCode::kNotFound);
}

TEST_F(SqliteDirectoryTest, ListAccountsOrdersByAddressAndFiltersByDomain) {
  MustCreate("zed@example.com");
  MustCreate("amy@example.org");
  MustCreate("bob@example.com");
  auto all = dir_->ListAccounts(std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(Addresses(*all),
            (Strings{"amy@example.org", "bob@example.com", "zed@example.com"}));
  auto com = dir_->ListAccounts("Example.COM");
  ASSERT_TRUE(com.has_value());
  EXPECT_EQ(Addresses(*com), (Strings{"bob@example.com", "zed@example.com"}));
}

TEST_F(SqliteDirectoryTest, UpdateAccountReplacesMutableFields) {
  Account account = MustCreate("u@example.com");
  account.display_name = "New Name";
  account.status = AccountStatus::kLocked;
  account.quota_bytes = 42;
  account.home_server = "mbox-2";
  account.address = "ignored@example.com";
  ASSERT_TRUE(dir_->UpdateAccount(account));

  auto got = dir_->GetAccount(account.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->address, "u@example.com") << "address must not change";
  EXPECT_EQ(got->display_name, "New Name");
  EXPECT_EQ(got->status, AccountStatus::kLocked);
  EXPECT_EQ(got->quota_bytes, 42);
  EXPECT_EQ(got->home_server, "mbox-2");

  Account ghost = account;
  ghost.id = "ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(dir_->UpdateAccount(ghost).error().code, ErrorCode::kNotFound);
  account.quota_bytes = -5;
  EXPECT_EQ(dir_->UpdateAccount(account).error().code, ErrorCode::kInvalid);
  EXPECT_EQ(dir_->GetAccount(account.id)->quota_bytes, 42)
      << "a refused update must change nothing";
}

TEST_F(SqliteDirectoryTest, DeleteAccountFreesAddressButNeverReusesId) {
  Account first = MustCreate("gone@example.com");
  ASSERT_TRUE(dir_->DeleteAccount("GONE@example.com"));
  EXPECT_EQ(dir_->GetAccount(first.id).error().code, ErrorCode::kNotFound);

  Account second = MustCreate("gone@example.com");
  EXPECT_NE(second.id, first.id);
  ASSERT_TRUE(dir_->DeleteAccount(second.id));
  EXPECT_EQ(dir_->DeleteAccount(second.id).error().code, ErrorCode::kNotFound);
}

// ---- Authentication ----

TEST_F(SqliteDirectoryTest, AuthenticateAcceptsRightPasswordAnyCase) {
  Account account = MustCreate("login@example.com", "hunter2!");
  auto got = dir_->Authenticate("LOGIN@Example.com", "hunter2!");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->id, account.id);
}

TEST_F(SqliteDirectoryTest, AuthenticateFailuresAreIndistinguishable) {
  MustCreate("login@example.com", "right");
  Account locked = MustCreate("locked@example.com", "right");
  locked.status = AccountStatus::kLocked;
  ASSERT_TRUE(dir_->UpdateAccount(locked));
  Account closed = MustCreate("closed@example.com", "right");
  closed.status = AccountStatus::kClosed;
  ASSERT_TRUE(dir_->UpdateAccount(closed));
  MustCreate("nopass@example.com");

  struct Case {
    const char* name;
    std::string address;
    std::string password;
  };
  const Case cases[] = {
      {"WrongPassword", "login@example.com", "wrong"},
      {"EmptyPassword", "login@example.com", ""},
      {"UnknownAccount", "ghost@example.com", "right"},
      {"UnknownDomain", "login@elsewhere.example", "right"},
      {"NotAnAddress", "login", "right"},
      {"LockedAccount", "locked@example.com", "right"},
      {"ClosedAccount", "closed@example.com", "right"},
      {"NoPasswordSet", "nopass@example.com", "right"},
  };
  for (const Case& c : cases) {
    auto got = dir_->Authenticate(c.address, c.password);
    ASSERT_FALSE(got.has_value()) << c.name << ": authenticated, want error";
    EXPECT_EQ(got.error().code, ErrorCode::kPermanent) << c.name;
    EXPECT_EQ(got.error().message, "authentication failed") << c.name;
    EXPECT_TRUE(got.error().context.empty())
        << c.name << ": context " << got.error().ToString()
        << " tells the failures apart";
  }
}

// ---- Aliases and lists ----

TEST_F(SqliteDirectoryTest, AliasAndListErrorPaths) {
  MustCreate("user@example.com");
  ASSERT_TRUE(dir_->CreateList(MailingList{"team@example.com", {}}));
  struct Case {
    const char* name;
    Status got;
    ErrorCode want;
  };
  const Case cases[] = {
      {"AliasBadAddress", dir_->CreateAlias(Alias{"@example.com", {"a@b.c"}}),
       ErrorCode::kInvalid},
      {"AliasNoTargets", dir_->CreateAlias(Alias{"a@example.com", {}}),
       ErrorCode::kInvalid},
      {"AliasBadTarget", dir_->CreateAlias(Alias{"a@example.com", {"bad"}}),
       ErrorCode::kInvalid},
      {"AliasForeignDomain",
       dir_->CreateAlias(Alias{"a@remote.example", {"user@example.com"}}),
       ErrorCode::kNotFound},
      {"AliasOverAccount",
       dir_->CreateAlias(Alias{"User@example.com", {"x@remote.example"}}),
       ErrorCode::kExists},
      {"AliasOverList",
       dir_->CreateAlias(Alias{"team@example.com", {"x@remote.example"}}),
       ErrorCode::kExists},
      {"AliasToItself",
       dir_->CreateAlias(Alias{"self@example.com", {"SELF@example.com"}}),
       ErrorCode::kInvalid},
      {"ListOverAccount", dir_->CreateList(MailingList{"user@example.com", {}}),
       ErrorCode::kExists},
      {"ListContainsItself",
       dir_->CreateList(MailingList{"l@example.com", {"l@example.com"}}),
       ErrorCode::kInvalid},
      {"ListBadMember",
       dir_->CreateList(MailingList{"l@example.com", {"a@b@c"}}),
       ErrorCode::kInvalid},
      {"DeleteUnknownAlias", dir_->DeleteAlias("none@example.com"),
       ErrorCode::kNotFound},
      {"DeleteAliasThatIsList", dir_->DeleteAlias("team@example.com"),
       ErrorCode::kNotFound},
      {"DeleteUnknownList", dir_->DeleteList("none@example.com"),
       ErrorCode::kNotFound},
      {"AddToUnknownList", dir_->AddListMember("none@example.com", "a@b.c"),
       ErrorCode::kNotFound},
      {"AddBadMember", dir_->AddListMember("team@example.com", "nope"),
       ErrorCode::kInvalid},
      {"AddListToItself",
       dir_->AddListMember("team@example.com", "Team@Example.com"),
       ErrorCode::kInvalid},
      {"RemoveFromUnknownList",
       dir_->RemoveListMember("none@example.com", "a@b.c"),
       ErrorCode::kNotFound},
      {"RemoveNonMember", dir_->RemoveListMember("team@example.com", "a@b.c"),
       ErrorCode::kNotFound},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(c.got.has_value()) << c.name << ": succeeded, want error";
    EXPECT_EQ(c.got.error().code, c.want)
        << c.name << ": got " << c.got.error().ToString() << ", want "
        << ErrorCodeName(c.want);
  }
  EXPECT_EQ(dir_->GetList("none@example.com").error().code,
            ErrorCode::kNotFound);

  ASSERT_TRUE(dir_->AddListMember("team@example.com", "user@example.com"));
  EXPECT_EQ(
      dir_->AddListMember("team@example.com", "USER@example.com").error().code,
      ErrorCode::kExists);
  // Nothing half-made by the failures above.
  auto aliases = dir_->ListAliases();
  ASSERT_TRUE(aliases.has_value());
  EXPECT_TRUE(aliases->empty()) << aliases->size() << " aliases, want none";
}

TEST_F(SqliteDirectoryTest, StoresAliasesAndListsNormalisedInOrder) {
  ASSERT_TRUE(dir_->CreateAlias(
      Alias{"Sales@Example.com",
            {"Zed@Example.com", "amy@example.com", "ZED@example.com"}}));
  ASSERT_TRUE(dir_->CreateList(
      MailingList{"all@example.com", {"b@example.com", "A@remote.example"}}));
  ASSERT_TRUE(dir_->AddListMember("all@example.com", "c@example.com"));
  ASSERT_TRUE(dir_->RemoveListMember("ALL@example.com", "b@EXAMPLE.com"));

  auto aliases = dir_->ListAliases();
  ASSERT_TRUE(aliases.has_value());
  ASSERT_EQ(aliases->size(), 1u);
  EXPECT_EQ((*aliases)[0].address, "sales@example.com");
  EXPECT_EQ((*aliases)[0].targets,
            (Strings{"zed@example.com", "amy@example.com"}));

  auto list = dir_->GetList("All@example.com");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->members, (Strings{"a@remote.example", "c@example.com"}));

  ASSERT_TRUE(dir_->CreateList(MailingList{"empty@example.com", {}}));
  auto lists = dir_->ListLists();
  ASSERT_TRUE(lists.has_value());
  ASSERT_EQ(lists->size(), 2u);
  EXPECT_EQ((*lists)[0].address, "all@example.com");
  EXPECT_EQ((*lists)[1].address, "empty@example.com");
  EXPECT_TRUE((*lists)[1].members.empty());

  ASSERT_TRUE(dir_->DeleteAlias("sales@example.com"));
  ASSERT_TRUE(dir_->DeleteList("all@example.com"));
  EXPECT_EQ(dir_->ListAliases()->size(), 0u);
  EXPECT_EQ(dir_->ListLists()->size(), 1u);
  // The freed address can now be an account.
  MustCreate("sales@example.com");
}

TEST_F(SqliteDirectoryTest, RefusesAliasesAndMembersThatCloseLoops) {
  // a -> b -> list c -> a would be a loop; so would list x containing y
  // where y is an alias leading back to x.
  ASSERT_TRUE(dir_->CreateAlias(Alias{"b@example.com", {"c@example.com"}}));
  ASSERT_TRUE(
      dir_->CreateList(MailingList{"c@example.com", {"a@example.com"}}));
  auto loop = dir_->CreateAlias(Alias{"a@example.com", {"b@example.com"}});
  ASSERT_FALSE(loop.has_value());
  EXPECT_EQ(loop.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(loop.error().message, "alias would close a loop");

  ASSERT_TRUE(dir_->CreateList(MailingList{"x@example.com", {}}));
  ASSERT_TRUE(dir_->CreateAlias(Alias{"y@example.com", {"x@example.com"}}));
  auto member = dir_->AddListMember("x@example.com", "y@example.com");
  ASSERT_FALSE(member.has_value());
  EXPECT_EQ(member.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(dir_->GetList("x@example.com")->members.size(), 0u);

  ASSERT_TRUE(
      dir_->CreateList(MailingList{"z@example.com", {"y@example.com"}}));
  auto nested =
      dir_->CreateList(MailingList{"w@example.com", {"z@example.com"}});
  EXPECT_TRUE(nested.has_value()) << "a chain without a loop is fine";
  EXPECT_FALSE(dir_->AddListMember("x@example.com", "w@example.com"));
}

// ---- Resolution ----

TEST_F(SqliteDirectoryTest, ResolvesAccountsAliasesListsAndExternals) {
  MustCreate("alice@example.com");
  MustCreate("bob@example.com");
  Account closed = MustCreate("carol@example.org");
  closed.status = AccountStatus::kClosed;
  ASSERT_TRUE(dir_->UpdateAccount(closed));

  ASSERT_TRUE(dir_->CreateAlias(
      Alias{"info@example.com", {"alice@example.com", "ext@remote.example"}}));
  ASSERT_TRUE(dir_->CreateList(MailingList{
      "staff@example.com", {"bob@example.com", "info@example.com"}}));
  // Nested: a list of lists and aliases, reaching alice and ext twice.
  ASSERT_TRUE(dir_->CreateList(MailingList{
      "everyone@example.org",
      {"staff@example.com", "alice@example.com", "carol@example.org",
       "EXT@remote.example", "ghost@example.com", "other@remote.example"}}));
  ASSERT_TRUE(
      dir_->CreateAlias(Alias{"all@example.org", {"everyone@example.org"}}));

  struct Case {
    std::string address;
    Strings want_accounts;
    Strings want_external;
    Strings want_unknown;
  };
  const Case cases[] = {
      {"Alice@Example.com", {"alice@example.com"}, {}, {}},
      {"info@example.com", {"alice@example.com"}, {"ext@remote.example"}, {}},
      {"staff@example.com",
       {"bob@example.com", "alice@example.com"},
       {"ext@remote.example"},
       {}},
      {"ALL@example.org",
       {"bob@example.com", "alice@example.com", "carol@example.org"},
       {"ext@remote.example", "other@remote.example"},
       {"ghost@example.com"}},
      {"someone@Remote.Example", {}, {"someone@remote.example"}, {}},
  };
  for (const Case& c : cases) {
    auto got = dir_->Resolve(c.address);
    ASSERT_TRUE(got.has_value()) << c.address << ": " << got.error().ToString();
    EXPECT_EQ(Addresses(got->accounts), c.want_accounts) << c.address;
    EXPECT_EQ(got->external, c.want_external) << c.address;
    EXPECT_EQ(got->unknown, c.want_unknown) << c.address;
    EXPECT_FALSE(got->loop_detected) << c.address;
  }

  // Closed accounts come back with their status; the caller decides.
  auto carol = dir_->Resolve("carol@example.org");
  ASSERT_TRUE(carol.has_value());
  ASSERT_EQ(carol->accounts.size(), 1u);
  EXPECT_EQ(carol->accounts[0].status, AccountStatus::kClosed);

  EXPECT_EQ(dir_->Resolve("nobody@example.com").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(dir_->Resolve("not an address").error().code, ErrorCode::kInvalid);
}

TEST_F(SqliteDirectoryTest, DanglingTargetsResolveAsUnknown) {
  Account gone = MustCreate("gone@example.com");
  ASSERT_TRUE(
      dir_->CreateAlias(Alias{"old@example.com", {"gone@example.com"}}));
  ASSERT_TRUE(dir_->DeleteAccount(gone.id));
  auto got = dir_->Resolve("old@example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->accounts.empty());
  EXPECT_EQ(got->unknown, Strings{"gone@example.com"});
}

TEST_F(SqliteDirectoryTest, CutsLoopInjectedBehindItsBack) {
  MustCreate("alice@example.com");
  ASSERT_TRUE(dir_->CreateAlias(
      Alias{"a@example.com", {"b@example.com", "alice@example.com"}}));
  ASSERT_TRUE(dir_->CreateList(MailingList{"b@example.com", {}}));
  // b -> a closes the loop a -> b -> a; the API would refuse this.
  RawSql(
      "INSERT INTO expansions (owner, position, target) "
      "VALUES ('b@example.com', 0, 'a@example.com')");

  for (const std::string start : {"a@example.com", "b@example.com"}) {
    auto got = dir_->Resolve(start);
    ASSERT_TRUE(got.has_value()) << start << ": " << got.error().ToString();
    EXPECT_TRUE(got->loop_detected) << start;
    EXPECT_EQ(Addresses(got->accounts), Strings{"alice@example.com"}) << start;
  }
}

TEST_F(SqliteDirectoryTest, CutsExpansionDeeperThanTheLimit) {
  // A chain one longer than the limit, built bottom-up so no loop exists.
  MustCreate("end@example.com");
  std::string next = "end@example.com";
  const int links = SqliteDirectory::kMaxExpansionDepth + 1;
  for (int i = 0; i < links; ++i) {
    std::string alias = "hop" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(dir_->CreateAlias(Alias{alias, {next}}));
    next = alias;
  }
  auto deep = dir_->Resolve(next);
  ASSERT_TRUE(deep.has_value());
  EXPECT_TRUE(deep->loop_detected) << "past the depth limit";
  EXPECT_TRUE(deep->accounts.empty());

  auto shallow = dir_->Resolve("hop0@example.com");
  ASSERT_TRUE(shallow.has_value());
  EXPECT_FALSE(shallow->loop_detected);
  EXPECT_EQ(Addresses(shallow->accounts), Strings{"end@example.com"});
}

TEST_F(SqliteDirectoryTest, AddressCutByDepthIsStillReachedByShortPath) {
  // x is first met at the depth limit (its account would be one deeper
  // and is cut), then again directly under the list: the account must
  // still be delivered once.
  MustCreate("deep@example.com");
  ASSERT_TRUE(dir_->CreateAlias(Alias{"x@example.com", {"deep@example.com"}}));
  std::string next = "x@example.com";
  for (int i = 0; i < SqliteDirectory::kMaxExpansionDepth - 1; ++i) {
    std::string alias = "hop" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(dir_->CreateAlias(Alias{alias, {next}}));
    next = alias;
  }
  ASSERT_TRUE(
      dir_->CreateList(MailingList{"s@example.com", {next, "x@example.com"}}));

  auto got = dir_->Resolve("s@example.com");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_TRUE(got->loop_detected) << "the long branch passes the limit";
  EXPECT_EQ(Addresses(got->accounts), Strings{"deep@example.com"});
}

// ---- Servers ----

TEST_F(SqliteDirectoryTest, PutServerInsertsAndReplaces) {
  ServerInfo mbox{"mbox-1", "zone-a", {"mailbox"}, {"lmtp=10.0.0.5:24"}};
  ASSERT_TRUE(dir_->PutServer(mbox));
  ServerInfo edge{"edge-1",
                  "zone-b",
                  {"mta", "proxy"},
                  {"smtp=[2001:db8::1]:25", "imap=10.0.1.1:143"}};
  ASSERT_TRUE(dir_->PutServer(edge));
  mbox.roles = {"mailbox", "directory"};
  mbox.addresses = {"lmtp=10.0.0.6:24"};
  ASSERT_TRUE(dir_->PutServer(mbox));

  auto servers = dir_->ListServers();
  ASSERT_TRUE(servers.has_value());
  ASSERT_EQ(servers->size(), 2u);
  EXPECT_EQ((*servers)[0].name, "edge-1");
  EXPECT_EQ((*servers)[0].roles, (Strings{"mta", "proxy"}));
  EXPECT_EQ((*servers)[0].addresses,
            (Strings{"smtp=[2001:db8::1]:25", "imap=10.0.1.1:143"}));
  EXPECT_EQ((*servers)[1].name, "mbox-1");
  EXPECT_EQ((*servers)[1].zone, "zone-a");
  EXPECT_EQ((*servers)[1].roles, (Strings{"mailbox", "directory"}));
  EXPECT_EQ((*servers)[1].addresses, Strings{"lmtp=10.0.0.6:24"});
}

TEST_F(SqliteDirectoryTest, PutServerRejectsBadFields) {
  const ServerInfo cases[] = {
      {"", "z", {}, {}},
      {"bad name", "z", {}, {}},
      {"s", "", {}, {}},
      {"s", "z", {"webmail"}, {}},
      {"s", "z", {"mta", "mta"}, {}},
      {"s", "z", {}, {"10.0.0.1:24"}},
      {"s", "z", {}, {"lmtp=10.0.0.1"}},
      {"s", "z", {}, {"=10.0.0.1:24"}},
  };
  for (const ServerInfo& s : cases) {
    auto got = dir_->PutServer(s);
    ASSERT_FALSE(got.has_value()) << "server " << s.name << " accepted";
    EXPECT_EQ(got.error().code, ErrorCode::kInvalid);
  }
  EXPECT_TRUE(dir_->ListServers()->empty());
}

// ---- Persistence, schema, concurrency ----

TEST_F(SqliteDirectoryTest, DataSurvivesReopen) {
  Account account = MustCreate("keep@example.com", "pw");
  dir_.reset();
  auto reopened = SqliteDirectory::Open(db_path());
  ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
  auto got = (*reopened)->GetAccount("keep@example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id, account.id);
  EXPECT_TRUE((*reopened)->Authenticate("keep@example.com", "pw"));
}

TEST_F(SqliteDirectoryTest, RefusesSchemaFromNewerBuild) {
  dir_.reset();
  RawSql("UPDATE schema_version SET version = 99");
  auto got = SqliteDirectory::Open(db_path());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::kConfig) << got.error().ToString();
}

TEST(SqliteDirectoryOpenTest, ReportsUnopenableAndCorruptFiles) {
  TempDir tmp;
  auto missing = SqliteDirectory::Open(tmp.path() / "no-such-dir" / "d.db");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo) << missing.error().ToString();

  const fs::path junk = tmp.path() / "junk.db";
  {
    FILE* f = fopen(junk.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(
        "this is not an SQLite database, just some text that is long "
        "enough to have a header\n",
        f);
    fclose(f);
  }
  auto corrupt = SqliteDirectory::Open(junk);
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_EQ(corrupt.error().code, ErrorCode::kCorruption)
      << corrupt.error().ToString();
}

TEST_F(SqliteDirectoryTest, ConcurrentCallersSeeConsistentState) {
  // Two threads create accounts while two others resolve and list;
  // every call must succeed and no address may be created twice.
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Account a;
        a.address =
            "t" + std::to_string(t) + "-" + std::to_string(i) + "@example.com";
        EXPECT_TRUE(dir_->CreateAccount(a).has_value()) << a.address;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(dir_->ListAccounts(std::nullopt).has_value());
        EXPECT_TRUE(dir_->Resolve("x@remote.example").has_value());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(dir_->ListAccounts(std::nullopt)->size(), 2u * kPerThread);
}

TEST(OpenDirectoryTest, OpensSqliteFileUnderDataDir) {
  TempDir tmp;
  Config config;
  config.server.data_dir = tmp.path();
  auto dir = OpenDirectory(config);
  ASSERT_TRUE(dir.has_value()) << dir.error().ToString();
  ASSERT_TRUE((*dir)->CreateDomain("example.com"));
  EXPECT_TRUE(fs::exists(tmp.path() / "directory.db"));

  config.directory.backend = "ldap";
  auto ldap = OpenDirectory(config);
  ASSERT_FALSE(ldap.has_value());
  EXPECT_EQ(ldap.error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace corvus
