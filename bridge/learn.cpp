#include "bridge/learn.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace knoblink {

std::optional<LearnKind> parse_learn_kind(std::string_view text) {
  if (text == "FLOAT") return LearnKind::float_;
  if (text == "INT") return LearnKind::int_;
  if (text == "BOOLEAN") return LearnKind::boolean;
  if (text == "ENUM") return LearnKind::enum_;
  return std::nullopt;
}

std::optional<LearnRequest> Learner::start(LearnRequest request, std::int64_t now_us) {
  auto replaced = std::move(pending_);
  pending_ = std::move(request);
  deadline_us_ = now_us + kTimeoutUs;
  positions_.clear();
  return replaced;
}

std::optional<std::pair<LearnRequest, Touched>> Learner::on_event(
    const ControlEvent& e, ControlKind kind, std::optional<std::pair<std::int32_t, std::int32_t>> range) {
  if (!pending_) return std::nullopt;
  bool touched = false;
  if (e.snapshot) {  // where a control is (docs/devices.md): a knob's starting position, never a touch
    if (kind == ControlKind::abs) {
      const auto it = std::find_if(positions_.begin(), positions_.end(),
                                   [&](const Position& p) { return p.device == e.device && p.control == e.control; });
      if (it == positions_.end()) positions_.push_back({e.device, e.control, e.value});
      else it->value = e.value;
    }
  } else if (kind == ControlKind::btn) {
    touched = e.value != 0;  // a press; its release is not a touch
  } else if (kind == ControlKind::rel) {
    touched = e.value != 0;
  } else if (kind == ControlKind::abs) {
    const auto it = std::find_if(positions_.begin(), positions_.end(),
                                 [&](const Position& p) { return p.device == e.device && p.control == e.control; });
    if (it == positions_.end()) {
      positions_.push_back({e.device, e.control, e.value});
    } else {
      const double span = range ? std::abs(double(range->second) - double(range->first)) : 1023.0;
      const double need = std::max(2.0, span / 100.0);
      touched = std::abs(double(e.value) - double(it->value)) >= need;
    }
  }
  if (!touched) return std::nullopt;
  std::pair<LearnRequest, Touched> out{std::move(*pending_), Touched{e.device, e.control, kind}};
  pending_.reset();
  positions_.clear();
  return out;
}

std::optional<LearnRequest> Learner::expire(std::int64_t now_us) {
  if (!pending_ || now_us < deadline_us_) return std::nullopt;
  auto out = std::move(pending_);
  pending_.reset();
  positions_.clear();
  return out;
}

std::optional<std::int64_t> Learner::deadline() const {
  if (!pending_) return std::nullopt;
  return deadline_us_;
}

std::string yaml_number(double v) {
  if (v == 0) v = 0;  // no "-0"
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

LearnedMapping learned_mapping(const LearnRequest& request, const std::string& control, ControlKind kind) {
  LearnedMapping out;
  const auto path = mapping_edit::quote(request.path);
  const bool number = request.kind == LearnKind::float_ || request.kind == LearnKind::int_;
  const char* type = request.kind == LearnKind::boolean ? "a bool" : request.kind == LearnKind::enum_ ? "an enum" : "";
  auto& keys = out.entry.keys;
  keys.emplace_back("control", control);
  switch (kind) {
    case ControlKind::abs:
      if (!number) {
        out.error = control + " is a knob or fader; " + type + " property is learned from a button";
        break;
      }
      out.what = "set";
      keys.emplace_back("set", path);
      keys.emplace_back("to", "[" + yaml_number(request.lo) + ", " + yaml_number(request.hi) + "]");
      break;
    case ControlKind::rel:
      if (!number) {
        out.error = control + " is an encoder; " + type + " property is learned from a button";
        break;
      }
      out.what = "add";
      keys.emplace_back("add", path);
      keys.emplace_back("step", request.kind == LearnKind::int_
                                    ? std::string("1")
                                    : yaml_number(std::abs(request.hi - request.lo) / 100.0));
      break;
    case ControlKind::btn:
      out.what = request.kind == LearnKind::boolean ? "toggle" : "keyframe";
      keys.emplace_back("press", "{" + out.what + ": " + path + "}");
      break;
    default: out.error = control + " is neither a knob, an encoder nor a button"; break;
  }
  if (!out.error.empty()) keys.clear();
  return out;
}

namespace {

std::string errno_text() { return std::strerror(errno); }

/// Writes text to a new file next to target and renames it over target, with mode.
std::string replace_file(const std::string& target, const std::string& text, mode_t mode) {
  const auto p = std::filesystem::path(target);
  std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".knoblink-XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return "cannot create a file in " + p.parent_path().string() + ": " + errno_text();
  std::string error;
  for (std::size_t done = 0; done < text.size() && error.empty();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) error = "cannot write " + tmp + ": " + errno_text();
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (error.empty() && ::fchmod(fd, mode & 07777) != 0) error = "cannot set the mode of " + tmp + ": " + errno_text();
  if (error.empty() && ::fsync(fd) != 0) error = "cannot write " + tmp + ": " + errno_text();
  if (::close(fd) != 0 && error.empty()) error = "cannot write " + tmp + ": " + errno_text();
  if (error.empty() && ::rename(tmp.c_str(), target.c_str()) != 0)
    error = "cannot replace " + target + ": " + errno_text();
  if (!error.empty()) ::unlink(tmp.c_str());
  return error;
}

}  // namespace

std::string save_edit(const std::string& file, const std::string& expected,
                      const std::function<std::optional<std::string>(const std::string&, std::string&)>& edit,
                      std::string* written) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(file, ec);
  if (ec) return "cannot find " + file + ": " + ec.message() + " (moved or deleted?)";
  const std::string target = real.string();
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return "cannot find " + target + ": " + errno_text() + " (moved or deleted?)";
  if ((st.st_mode & 0222) == 0 || ::access(target.c_str(), W_OK) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return file + " is read-only (mode " + mode + ")";
  }
  std::ifstream in(target, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return "cannot read " + file + ": " + errno_text();
  const std::string now = ss.str();
  if (now != expected)
    return file + " changed since knoblink loaded it; reload it (SIGHUP) and try again, so no edit of yours is lost";
  std::string error;
  const auto text = edit(now, error);
  if (!text) return file + ": " + error;
  if (auto e = replace_file(target, *text, st.st_mode); !e.empty()) return e;
  if (written) *written = *text;
  return {};
}

}  // namespace knoblink
