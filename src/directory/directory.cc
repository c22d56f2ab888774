#include "directory/directory.h"

namespace corvus {

std::string_view AccountStatusName(AccountStatus status) {
  switch (status) {
    case AccountStatus::kActive:
      return "active";
    case AccountStatus::kLocked:
      return "locked";
    case AccountStatus::kClosed:
      return "closed";
  }
  return "unknown";
}

std::optional<AccountStatus> ParseAccountStatus(std::string_view name) {
  if (name == "active") return AccountStatus::kActive;
  if (name == "locked") return AccountStatus::kLocked;
  if (name == "closed") return AccountStatus::kClosed;
  return std::nullopt;
}

}  // namespace corvus
