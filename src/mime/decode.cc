// Header decoding through GMime; see decode.h.
#include "mime/decode.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "mime/header.h"

namespace corvus::mime {
namespace {

void EnsureGmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// Owns a g_malloc'ed string.
struct GFreeDeleter {
  void operator()(char* p) const { g_free(p); }
};

}  // namespace

std::string DecodeHeaderText(std::string_view text) {
  std::string unfolded = Unfold(text);
  // Plain ASCII without an encoded word comes back from GMime as it went
  // in (white space included); SEARCH decodes a header field of every
  // message, so skip the library's tokenising and allocations for it.
  bool plain = unfolded.find("=?") == std::string::npos &&
               std::all_of(unfolded.begin(), unfolded.end(), [](char c) {
                 return c != '\0' && static_cast<unsigned char>(c) < 0x80;
               });
  if (plain) return unfolded;

  EnsureGmime();
  std::unique_ptr<char, GFreeDeleter> decoded(
      g_mime_utils_header_decode_text(nullptr, unfolded.c_str()));
  if (!decoded) return unfolded;
  return std::string(decoded.get());
}

std::optional<std::string> DecodeParam(std::string_view header_value,
                                       std::string_view name,
                                       bool is_disposition) {
  EnsureGmime();
  std::string value = Unfold(header_value);
  std::string key(name);
  std::optional<std::string> result;
  if (is_disposition) {
    GMimeContentDisposition* cd =
        g_mime_content_disposition_parse(nullptr, value.c_str());
    if (cd == nullptr) return std::nullopt;
    if (const char* v =
            g_mime_content_disposition_get_parameter(cd, key.c_str())) {
      result = v;
    }
    g_object_unref(cd);
  } else {
    GMimeContentType* ct = g_mime_content_type_parse(nullptr, value.c_str());
    if (ct == nullptr) return std::nullopt;
    if (const char* v = g_mime_content_type_get_parameter(ct, key.c_str())) {
      result = v;
    }
    g_object_unref(ct);
  }
  return result;
}

std::optional<std::string> PartFilename(std::string_view raw,
                                        const Part& part) {
  std::vector<HeaderField> fields = SplitHeader(part.header.Of(raw));
  if (auto cd = FindField(fields, "Content-Disposition")) {
    if (auto name = DecodeParam(*cd, "filename", true)) return name;
  }
  if (auto ct = FindField(fields, "Content-Type")) {
    return DecodeParam(*ct, "name", false);
  }
  return std::nullopt;
}

}  // namespace corvus::mime
