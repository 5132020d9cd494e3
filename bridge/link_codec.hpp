// Contract 2 on the bridge's side (docs/protocol.md): every line the bridge writes to the
// add-on and every line it reads back, as plain values. Pure: no I/O, no clock. The link
// (blender_link.cpp) only moves the bytes; the outbox (outbox.cpp) only holds values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <vector>

#include "bridge/command.hpp"
#include "bridge/config.hpp"
#include "bridge/status.hpp"
#include "bridge/learn.hpp"

namespace knoblink::codec {

/// The longest line either side sends (64 KiB, without the newline).
inline constexpr std::size_t kMaxLine = 64 * 1024;
/// Protocol version in the hello.
inline constexpr int kProtocol = 1;

/// Appends the hello line: {"hello":1,"client":...[,"token":...][,"session":...]}.
void append_hello(std::string& out, std::string_view client, std::string_view token, std::string_view session);
/// Appends one command line (with "id" when id != 0). Never allocates beyond out's growth:
/// the target's JSON text comes from the TargetTable.
void append_command(std::string& out, const Command& c, const TargetTable& targets, std::uint64_t id);

/// Appends the status line for the KnobLink panel: {"op":"status",...} (docs/protocol.md, "Status").
/// Sent only to an add-on whose hello answer lists the "status" feature.
void append_status(std::string& out, const Status& s);
/// Appends {"op":"mappings","file":F,"mappings":[...]}: every control -> target of the mapping,
/// for the panel (sent with the status, after a connect and after each reload).
void append_mappings(std::string& out, const Config& config);

/// One line from the add-on.
struct Answer {
  enum class Kind {
    hello,      ///< the hello answer: server, blender
    ok,         ///< {"id":N,"ok":true}
    error,      ///< {"id":N,"error":code,"message":...} (has_id false: about a line, not a command)
    value,      ///< {"ev":"value","path":P,"value":V}: number (vectors: 1 if any element is non-zero) or nullopt
    latency,    ///< {"ev":"latency","stage":S,...}: the add-on's own stage (received -> applied)
    learn,      ///< {"ev":"learn","path":P,"kind":K,"min":lo,"max":hi}: learn (message: why it is unusable)
    forget,     ///< {"ev":"forget","path":P}: forget P's mappings (message: why it is unusable)
    record,     ///< {"ev":"record","on":B}: recording on (value 1) or off (0) in Blender
    other,      ///< valid JSON this bridge has no use for (a newer add-on's event)
    malformed,  ///< not a JSON object; message says what it was
  };
  Kind kind = Kind::other;
  bool has_id = false;
  std::uint64_t id = 0;
  std::string server, blender;  ///< hello
  std::vector<std::string> features;  ///< hello: what the add-on takes beyond v1 ("status")
  std::string stage;            ///< latency: the stage's name
  StageStatus figures;          ///< latency
  std::string code, message;    ///< error (message also for malformed)
  std::string path;             ///< value, learn, forget
  std::optional<double> value;  ///< value; record: 1 or 0
  LearnRequest learn;           ///< learn
};

/// What the bridge answers to learn and forget (docs/protocol.md, "Learn and forget").
struct LearnAnswer {
  std::string op;       ///< "learned", "learn_failed", "forgot" or "forget_failed"
  std::string path;
  std::string control;  ///< learned: "box.k2"
  std::string mapping;  ///< learned: "set", "add", "toggle" or "keyframe"
  std::string file;     ///< learned, forgot: the mapping file
  int line = 0;         ///< learned and saved: the new entry's line in file
  std::vector<int> lines;  ///< forgot and saved: where the removed entries started in file
  int count = 0;        ///< forgot: mappings no longer live
  std::string reason;   ///< learn_failed, forget_failed; learned/forgot: why file was not written (as "error")
};

/// Appends one learn or forget answer line.
void append_learn_answer(std::string& out, const LearnAnswer& a);

/// Decodes one line (without its newline).
Answer decode_answer(std::string_view line);

/// Splits a byte stream into lines of at most kMaxLine bytes (the add-on's framing): a
/// longer line is reported once through on_oversize and skipped up to its newline.
class LineReader {
 public:
  explicit LineReader(std::size_t max_line = kMaxLine) : max_(max_line) {}
  /// Feeds bytes; calls on_line for each complete line (without "\n"). on_line returns
  /// false to stop at once (the connection ended); feed then returns false too.
  bool feed(std::string_view data, const std::function<bool(std::string_view)>& on_line,
            const std::function<void(std::size_t)>& on_oversize);
  void reset() {
    line_.clear();
    discarding_ = false;
  }

 private:
  std::size_t max_;
  std::string line_;
  bool discarding_ = false;
};

}  // namespace knoblink::codec
