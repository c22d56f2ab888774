// Opens the directory backend the configuration names.
//
// The one place that maps [directory] backend = "..." to an
// implementation, so that daemons and the `corvus` command open the
// directory the same way.
//
// Thread safety: OpenDirectory may be called from any thread; the
// returned Directory is itself thread-safe.
#ifndef CORVUS_DIRECTORY_DIRECTORY_FACTORY_H_
#define CORVUS_DIRECTORY_DIRECTORY_FACTORY_H_

#include <memory>

#include "common/config.h"
#include "common/result.h"
#include "directory/directory.h"

namespace corvus {

// Opens the backend in `config.directory`. For "sqlite", the file is
// config.DataPath(config.directory.path). Errors: kConfig for a backend
// this build does not have, else whatever the backend's Open returns.
Result<std::unique_ptr<Directory>> OpenDirectory(const Config& config);

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_DIRECTORY_FACTORY_H_
