// libFuzzer target for the IMAP command parser, the argument grammars
// (FETCH, STORE, SEARCH, APPEND), literal announcements, modified UTF-7
// and the BINARY transfer decoders. Any input must parse or be refused with an
// error value; never crash, never loop, never recurse without bound.
//
// Built as a fuzzer with -DCORVUS_FUZZ=ON (clang); also linked into
// mailbox_imap_test, where a bounded random test feeds it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailbox/imap/binary_section.h"
#include "mailbox/imap/imap_parser.h"
#include "mailbox/imap/imap_utf7.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corvus::imap;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  (void)TrailingLiteral(input);
  (void)TagForError(input);
  if (auto command = ParseCommand(input); command) {
    (void)ParseFetch(command->args);
    (void)ParseStore(command->args);
    (void)ParseSearch(command->args);
    (void)ParseAppend(command->args);
  }
  // Arguments alone, as if after any command name.
  (void)ParseFetch(input);
  (void)ParseSearch(input);

  // Whatever decodes must encode back to the same bytes: the decoder is
  // strict, so there is one spelling per name.
  if (auto decoded = DecodeMailboxName(input); decoded) {
    auto encoded = EncodeMailboxName(*decoded);
    if (!encoded || *encoded != input) __builtin_trap();
  }
  if (auto encoded = EncodeMailboxName(input); encoded) {
    auto decoded = DecodeMailboxName(*encoded);
    if (!decoded || *decoded != input) __builtin_trap();
  }
  // Transfer decoding of whatever parts the input has as a message.
  (void)DecodeMailBase64(input);
  (void)DecodeQuotedPrintable(input);
  if (size < 4096) {
    corvus::mime::Message message = corvus::mime::ParseMessage(input);
    for (std::string_view section : {"", "1", "2", "1.1", "2.3.1"}) {
      (void)DecodeBinarySection(input, message, section);
    }
  }
  return 0;
}
