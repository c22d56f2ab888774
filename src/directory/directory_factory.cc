#include "directory/directory_factory.h"

#include "directory/sqlite_directory.h"

namespace corvus {

Result<std::unique_ptr<Directory>> OpenDirectory(const Config& config) {
  const std::string& backend = config.directory.backend;
  if (backend == "sqlite") {
    return SqliteDirectory::Open(config.DataPath(config.directory.path));
  }
  // TODO(corvus): the LDAP backend (multi-server deployments, DESIGN.md
  // §1) is not built yet; until it is, only single-box sites can run.
  return Fail(Error{ErrorCode::kConfig, "unknown directory backend", {}}
                  .With("key", "directory.backend")
                  .With("value", backend));
}

}  // namespace corvus
