#include "cli/node.h"

#include "directory/directory_factory.h"

namespace corvus {
namespace {

class NodeImpl final : public Node {
 public:
  Status Open(const Config& config, Server& /*server*/, const Logger& log) {
    auto directory = OpenDirectory(config);
    if (!directory) return Fail(directory.error());
    directory_ = std::move(*directory);
    log_ = log;
    // TODO(corvus): the mta, mailbox and proxy listeners are wired here as
    // those roles land; until then `serve` only opens the directory.
    return {};
  }

  void Stop() override { directory_.reset(); }

 private:
  Logger log_;
  std::unique_ptr<Directory> directory_;
};

}  // namespace

Result<std::unique_ptr<Node>> Node::Start(const Config& config,
                                          Server& server,
                                          const Logger& log) {
  auto node = std::make_unique<NodeImpl>();
  if (auto s = node->Open(config, server, log); !s) return Fail(s.error());
  return std::unique_ptr<Node>(std::move(node));
}

}  // namespace corvus
