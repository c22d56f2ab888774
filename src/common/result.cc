#include "common/result.h"

namespace corvus {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kExists:
      return "exists";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kTemporary:
      return "temporary";
    case ErrorCode::kPermanent:
      return "permanent";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kConfig:
      return "config";
  }
  return "unknown";
}

Error Error::With(std::string key, std::string value) const& {
  Error copy = *this;
  copy.context.emplace_back(std::move(key), std::move(value));
  return copy;
}

Error Error::With(std::string key, std::string value) && {
  context.emplace_back(std::move(key), std::move(value));
  return std::move(*this);
}

std::string Error::ToString() const {
  std::string out = message;
  if (context.empty()) return out;
  out += " (";
  for (size_t i = 0; i < context.size(); ++i) {
    if (i > 0) out += ", ";
    out += context[i].first + "=" + context[i].second;
  }
  out += ")";
  return out;
}

}  // namespace corvus
