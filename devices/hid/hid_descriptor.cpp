#include "devices/hid/hid_descriptor.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace knoblink::hid {
namespace {

// Item tags (HID 1.11, 6.2.2), the prefix byte with its size bits cleared.
enum : std::uint8_t {
  main_input = 0x80, main_output = 0x90, main_feature = 0xb0, main_collection = 0xa0,
  main_end_collection = 0xc0,
  global_usage_page = 0x04, global_logical_min = 0x14, global_logical_max = 0x24,
  global_report_size = 0x74, global_report_id = 0x84, global_report_count = 0x94,
  global_push = 0xa4, global_pop = 0xb4,
  local_usage = 0x08, local_usage_min = 0x18, local_usage_max = 0x28,
};
// Main item data bits.
constexpr std::uint32_t flag_constant = 1u << 0, flag_variable = 1u << 1,
                        flag_relative = 1u << 2, flag_null_state = 1u << 6;
constexpr std::uint16_t page_generic_desktop = 0x01, page_keyboard = 0x07, page_button = 0x09;
// Every allocation the descriptor's values drive is bounded by one of these (and every
// warning is pushed at most once per item), whatever a device presents.
constexpr std::size_t max_usage_range = 1024;  // per Usage Minimum/Maximum pair
constexpr std::size_t max_usages = 1024;       // local usages before one main item (no item needs more)
constexpr std::size_t max_controls = 1024;
constexpr std::size_t max_push_depth = 16;
// The longest report hidraw delivers (the kernel's HID_MAX_BUFFER_SIZE, ID byte included);
// the kernel refuses a descriptor that declares a longer one, and so does this parser.
constexpr std::uint32_t max_report_bits = (16384 - 1) * 8;

struct Globals {
  std::uint16_t usage_page = 0;
  std::int32_t logical_min = 0;
  std::uint32_t logical_max_raw = 0;  // resolved at the main item: signed only when min < 0
  std::uint8_t logical_max_size = 0;
  std::uint32_t report_size = 0;
  std::uint32_t report_count = 0;
  std::uint8_t report_id = 0;

  std::int32_t logical_max() const {
    if (logical_min < 0 && logical_max_size > 0 && logical_max_size < 4) {
      const std::uint32_t sign = 1u << (logical_max_size * 8 - 1);
      return static_cast<std::int32_t>((logical_max_raw ^ sign) - sign);
    }
    if (logical_min >= 0 && logical_max_raw > INT32_MAX) return INT32_MAX;
    return static_cast<std::int32_t>(logical_max_raw);
  }
};

struct LocalUsage {
  std::uint32_t value = 0;
  bool extended = false;  // a 4-byte usage carries its own page
};

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*x", digits, v);
  return buf;
}

const char* named_usage(std::uint16_t page, std::uint16_t id) {
  struct Entry { std::uint16_t page, id; const char* name; };
  static constexpr Entry table[] = {
      {0x01, 0x30, "x"}, {0x01, 0x31, "y"}, {0x01, 0x32, "z"}, {0x01, 0x33, "rx"},
      {0x01, 0x34, "ry"}, {0x01, 0x35, "rz"}, {0x01, 0x36, "slider"}, {0x01, 0x37, "dial"},
      {0x01, 0x38, "wheel"}, {0x01, 0x39, "hat"}, {0x01, 0x3d, "start"}, {0x01, 0x3e, "select"},
      {0x01, 0x40, "vx"}, {0x01, 0x41, "vy"}, {0x01, 0x42, "vz"}, {0x01, 0x81, "sys_power"},
      {0x01, 0x82, "sys_sleep"}, {0x01, 0x83, "sys_wake"}, {0x01, 0x90, "dpad_up"},
      {0x01, 0x91, "dpad_down"}, {0x01, 0x92, "dpad_right"}, {0x01, 0x93, "dpad_left"},
      {0x02, 0xba, "rudder"}, {0x02, 0xbb, "throttle"}, {0x02, 0xc4, "accelerator"},
      {0x02, 0xc5, "brake"}, {0x02, 0xc8, "steering"},
      {0x07, 0x28, "key_enter"}, {0x07, 0x29, "key_escape"}, {0x07, 0x2a, "key_backspace"},
      {0x07, 0x2b, "key_tab"}, {0x07, 0x2c, "key_space"}, {0x07, 0xe0, "key_lctrl"},
      {0x07, 0xe1, "key_lshift"}, {0x07, 0xe2, "key_lalt"}, {0x07, 0xe3, "key_lgui"},
      {0x07, 0xe4, "key_rctrl"}, {0x07, 0xe5, "key_rshift"}, {0x07, 0xe6, "key_ralt"},
      {0x07, 0xe7, "key_rgui"},
      {0x08, 0x01, "num_lock"}, {0x08, 0x02, "caps_lock"}, {0x08, 0x03, "scroll_lock"},
      {0x08, 0x04, "compose"}, {0x08, 0x05, "kana"},
      {0x0c, 0xb5, "next_track"}, {0x0c, 0xb6, "prev_track"}, {0x0c, 0xb7, "stop"},
      {0x0c, 0xcd, "play_pause"}, {0x0c, 0xe2, "mute"}, {0x0c, 0xe9, "volume_up"},
      {0x0c, 0xea, "volume_down"}, {0x0c, 0x238, "pan"},
      {0x0d, 0x30, "pressure"}, {0x0d, 0x42, "tip"},
  };
  for (const auto& e : table)
    if (e.page == page && e.id == id) return e.name;
  return nullptr;
}

ControlKind kind_of(std::uint16_t page, std::uint32_t flags, std::uint32_t size,
                    std::int32_t lmin, std::int32_t lmax, bool hat) {
  if (hat) return ControlKind::abs;
  if (page == page_button) return size == 1 || (lmin == 0 && lmax == 1) ? ControlKind::btn : ControlKind::abs;
  if (flags & flag_relative) return ControlKind::rel;
  if (size == 1 && lmin == 0 && lmax == 1) return ControlKind::btn;
  return ControlKind::abs;
}

class Parser {
 public:
  explicit Parser(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  ParseResult run() {
    std::size_t at = 0;
    while (at < bytes_.size()) {
      const std::uint8_t prefix = bytes_[at];
      if (prefix == 0xfe) {  // long item: 0xfe, size, tag, data
        if (at + 1 >= bytes_.size()) return fail(at, "long item without its size byte");
        const std::size_t n = bytes_[at + 1];
        if (at + 3 + n > bytes_.size()) return fail(at, "long item of " + std::to_string(n) + " bytes runs past the end");
        d_.warnings.push_back(where(at) + "long item skipped");
        at += 3 + n;
        continue;
      }
      const std::size_t size = (prefix & 3) == 3 ? 4 : (prefix & 3);
      if (at + 1 + size > bytes_.size())
        return fail(at, "item 0x" + hex(prefix, 2) + " needs " + std::to_string(size) +
                            " data bytes, the descriptor ends after " + std::to_string(bytes_.size() - at - 1));
      std::uint32_t data = 0;
      for (std::size_t i = 0; i < size; ++i) data |= std::uint32_t{bytes_[at + 1 + i]} << (8 * i);
      std::int32_t sdata = static_cast<std::int32_t>(data);
      if (size == 1) sdata = static_cast<std::int8_t>(data);
      if (size == 2) sdata = static_cast<std::int16_t>(data);
      if (!item(at, static_cast<std::uint8_t>(prefix & 0xfc), data, sdata, size)) return fail_result();
      at += 1 + size;
    }
    if (depth_ != 0) d_.warnings.push_back(where(bytes_.size()) + std::to_string(depth_) + " collection(s) not closed");
    return ParseResult{std::move(d_), {}};
  }

 private:
  bool item(std::size_t at, std::uint8_t tag, std::uint32_t data, std::int32_t sdata, std::size_t size) {
    switch (tag) {
      // Global items.
      case global_usage_page: g_.usage_page = static_cast<std::uint16_t>(data); return true;
      case global_logical_min: g_.logical_min = sdata; return true;
      case global_logical_max:
        g_.logical_max_raw = data;
        g_.logical_max_size = static_cast<std::uint8_t>(size);
        return true;
      case global_report_size: g_.report_size = data; return true;
      case global_report_count: g_.report_count = data; return true;
      case global_report_id:
        if (data == 0 || data > 255) return error(at, "Report ID " + std::to_string(data) + " (allowed: 1..255)");
        g_.report_id = static_cast<std::uint8_t>(data);
        d_.numbered = true;
        return true;
      case global_push:
        if (stack_.size() >= max_push_depth) return error(at, "Push nested deeper than 16");
        stack_.push_back(g_);
        return true;
      case global_pop:
        if (stack_.empty()) return error(at, "Pop without Push");
        g_ = stack_.back();
        stack_.pop_back();
        return true;
      // Local items.
      case local_usage: add_usage(at, {data, size == 4}); return true;
      case local_usage_min: usage_min_ = LocalUsage{data, size == 4}; return true;
      case local_usage_max: {
        if (!usage_min_) return error(at, "Usage Maximum without Usage Minimum");
        const std::uint32_t lo = usage_min_->extended ? usage_min_->value : usage_min_->value & 0xffff;
        std::uint32_t hi = usage_min_->extended && size < 4 ? (usage_min_->value & 0xffff0000u) | (data & 0xffff) : data;
        if (hi < lo) return error(at, "Usage Maximum 0x" + hex(hi, 2) + " below Usage Minimum 0x" + hex(lo, 2));
        if (hi - lo >= max_usage_range) {
          d_.warnings.push_back(where(at) + "usage range of " + std::to_string(hi - lo + 1) + " cut to 1024");
          hi = lo + max_usage_range - 1;
        }
        // 64-bit: a range that ends at 0xffffffff must not wrap around.
        for (std::uint64_t u = lo; u <= hi && add_usage(at, {static_cast<std::uint32_t>(u), usage_min_->extended}); ++u) {
        }
        usage_min_.reset();
        return true;
      }
      // Main items.
      case main_collection:
        if (depth_ == 0 && data == 1 && d_.application == 0) d_.application = resolve(0);
        ++depth_;
        clear_locals();
        return true;
      case main_end_collection:
        if (depth_ == 0) return error(at, "End Collection without Collection");
        --depth_;
        clear_locals();
        return true;
      case main_input: return main_field(at, ReportType::input, data);
      case main_output: return main_field(at, ReportType::output, data);
      case main_feature: return main_field(at, ReportType::feature, data);
      default:
        if ((tag & 0x0c) == 0) d_.warnings.push_back(where(at) + "unknown main item 0x" + hex(tag, 2) + " skipped");
        return true;  // other globals/locals (units, physical range, strings) do not matter here
    }
  }

  // Appends a local usage; past max_usages it warns once (per main item) and answers false.
  bool add_usage(std::size_t at, LocalUsage u) {
    if (usages_.size() < max_usages) {
      usages_.push_back(u);
      return true;
    }
    if (!usages_full_) d_.warnings.push_back(where(at) + "more than 1024 usages for one main item; the rest ignored");
    usages_full_ = true;
    return false;
  }

  bool main_field(std::size_t at, ReportType type, std::uint32_t flags) {
    const bool ok = field(at, type, flags);
    clear_locals();
    return ok;
  }

  // The extended usage of local usage i, paged by the current Usage Page when it has none.
  std::uint32_t resolve(std::size_t i) const {
    if (usages_.empty()) return usage(g_.usage_page, 0);
    const LocalUsage& u = usages_[std::min(i, usages_.size() - 1)];
    return u.extended ? u.value : usage(g_.usage_page, static_cast<std::uint16_t>(u.value));
  }

  bool field(std::size_t at, ReportType type, std::uint32_t flags) {
    HidReportLayout& layout = layout_of(type, g_.report_id);
    const std::uint32_t offset = layout.bits;
    const std::uint64_t bits = std::uint64_t{g_.report_size} * g_.report_count;
    if (offset + bits > max_report_bits) {
      static constexpr const char* type_names[] = {"input", "output", "feature"};
      return error(at, std::string(type_names[static_cast<int>(type)]) + " report " + std::to_string(g_.report_id) +
                           " is longer than 16383 bytes (Report Size " + std::to_string(g_.report_size) +
                           " x Report Count " + std::to_string(g_.report_count) + "); hidraw reads at most 16384");
    }
    layout.bits = static_cast<std::uint32_t>(offset + bits);
    if (type == ReportType::feature || (flags & flag_constant) || bits == 0) return true;
    if (g_.report_size > 32) {
      d_.warnings.push_back(where(at) + "field of " + std::to_string(g_.report_size) + " bits skipped (at most 32)");
      return true;
    }
    const std::int32_t lmin = g_.logical_min, lmax = g_.logical_max();
    const auto size = static_cast<std::uint8_t>(g_.report_size);
    if (flags & flag_variable) {
      for (std::uint32_t i = 0; i < g_.report_count; ++i) {
        const std::uint32_t u = resolve(i);
        const bool hat = u == usage(page_generic_desktop, 0x39);
        const ControlKind kind = type == ReportType::output
                                     ? ControlKind::out
                                     : kind_of(static_cast<std::uint16_t>(u >> 16), flags, size, lmin, lmax, hat);
        HidControl c;
        c.usage = u;
        c.type = type;
        c.report_id = g_.report_id;
        c.bit_offset = offset + i * size;
        c.bit_size = size;
        c.is_signed = lmin < 0;
        c.null_state = (flags & flag_null_state) != 0;
        c.hat = hat;
        // A rel axis keeps its logical range too: a 3D mouse's Relative axes report the cap's
        // displacement over it, which rate: and set: read as a position (docs/hid.md).
        const bool ranged = kind != ControlKind::btn && (kind != ControlKind::rel || lmin < lmax);
        if (!add(at, c, kind, ranged, lmin, lmax)) break;
      }
      return true;
    }
    // Array: each slot holds logical_min + the index of a pressed usage.
    if (type != ReportType::input) {
      d_.warnings.push_back(where(at) + "output array skipped");
      return true;
    }
    d_.arrays.push_back({type, g_.report_id, offset, size, static_cast<std::uint16_t>(std::min<std::uint32_t>(g_.report_count, 0xffff))});
    for (std::size_t j = 0; j < usages_.size(); ++j) {
      const std::int64_t value = std::int64_t{lmin} + static_cast<std::int64_t>(j);
      if (value > lmax) break;
      const std::uint32_t u = resolve(j);
      const std::uint16_t page = static_cast<std::uint16_t>(u >> 16), id = static_cast<std::uint16_t>(u);
      if (id == 0 || (page == page_keyboard && id <= 3)) continue;  // "none" and keyboard error codes
      HidControl c;
      c.usage = u;
      c.type = type;
      c.report_id = g_.report_id;
      c.bit_offset = offset;
      c.bit_size = size;
      c.is_signed = lmin < 0;
      c.array = static_cast<int>(d_.arrays.size() - 1);
      c.array_value = static_cast<std::int32_t>(value);
      if (!add(at, c, ControlKind::btn, false, 0, 0)) break;
    }
    return true;
  }

  // Appends a control; past max_controls it warns once (per descriptor) and answers false.
  bool add(std::size_t at, HidControl& c, ControlKind kind, bool has_range, std::int32_t lmin, std::int32_t lmax) {
    if (d_.controls.size() >= max_controls) {
      if (!controls_full_) d_.warnings.push_back(where(at) + "more than 1024 controls; the rest skipped");
      controls_full_ = true;
      return false;
    }
    c.info.kind = kind;
    c.info.has_range = has_range;
    c.info.min = has_range ? lmin : 0;
    c.info.max = has_range ? lmax : 0;
    c.info.name = Name::unchecked(unique_name(usage_name(c.usage)));
    d_.controls.push_back(c);
    return true;
  }

  // base, else base_2, base_3, ...; each base remembers its next suffix, so 1024 controls of
  // one usage take linear time, not 1024 * 1024 / 2 tries.
  std::string unique_name(const std::string& base) {
    std::string name = base;
    int& next = next_suffix_[base];
    for (int n = std::max(next, 2); !used_.insert(name).second; ++n) {
      const std::string suffix = "_" + std::to_string(n);
      name = base.substr(0, Name::capacity - suffix.size()) + suffix;
      next = n + 1;
    }
    return name;
  }

  HidReportLayout& layout_of(ReportType type, std::uint8_t id) {
    for (auto& r : d_.reports)
      if (r.type == type && r.id == id) return r;
    d_.reports.push_back({type, id, 0});
    return d_.reports.back();
  }

  void clear_locals() {
    usages_.clear();
    usages_full_ = false;
    usage_min_.reset();
  }

  static std::string where(std::size_t at) { return "byte " + std::to_string(at) + ": "; }
  bool error(std::size_t at, const std::string& what) {
    error_ = where(at) + what;
    return false;
  }
  ParseResult fail(std::size_t at, const std::string& what) {
    error(at, what);
    return fail_result();
  }
  ParseResult fail_result() { return ParseResult{std::nullopt, error_}; }

  std::span<const std::uint8_t> bytes_;
  HidDescriptor d_;
  Globals g_;
  std::vector<Globals> stack_;
  std::vector<LocalUsage> usages_;
  bool usages_full_ = false;    // the "more than 1024 usages" warning was given for this main item
  bool controls_full_ = false;  // the "more than 1024 controls" warning was given
  std::optional<LocalUsage> usage_min_;
  std::set<std::string> used_;
  std::map<std::string, int> next_suffix_;  // per base name: the first suffix not yet tried
  int depth_ = 0;
  std::string error_;
};

}  // namespace

const HidReportLayout* HidDescriptor::report(ReportType type, std::uint8_t id) const {
  for (const auto& r : reports)
    if (r.type == type && r.id == id) return &r;
  return nullptr;
}

ParseResult parse_descriptor(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return {std::nullopt, "byte 0: empty report descriptor"};
  return Parser(bytes).run();
}

std::string usage_name(std::uint32_t u) {
  const auto page = static_cast<std::uint16_t>(u >> 16), id = static_cast<std::uint16_t>(u);
  if (const char* n = named_usage(page, id)) return n;
  switch (page) {
    case 0x01: return "gd_" + hex(id, 2);
    case 0x02: return "sim_" + hex(id, 2);
    case 0x07:
      if (id >= 0x04 && id <= 0x1d) return std::string("key_") + static_cast<char>('a' + (id - 0x04));
      if (id >= 0x1e && id <= 0x27) return "key_" + std::to_string((id - 0x1d) % 10);
      if (id >= 0x3a && id <= 0x45) return "key_f" + std::to_string(id - 0x39);
      return "key_" + hex(id, 2);
    case 0x08: return "led_" + hex(id, 2);
    case 0x09: return "button" + std::to_string(id);
    case 0x0a: return "ordinal" + std::to_string(id);
    case 0x0c: return "consumer_" + hex(id, 2);
    case 0x0d: return "dig_" + hex(id, 2);
    default: break;
  }
  if (page >= 0xff00) return "vendor" + std::to_string(id);
  return "u" + hex(page, 2) + "_" + hex(id, 2);
}

std::string usage_page_name(std::uint16_t page) {
  switch (page) {
    case 0x01: return "Generic Desktop";
    case 0x02: return "Simulation";
    case 0x07: return "Keyboard";
    case 0x08: return "LED";
    case 0x09: return "Button";
    case 0x0c: return "Consumer";
    case 0x0d: return "Digitizer";
    default: return page >= 0xff00 ? "Vendor 0x" + hex(page, 4) : "0x" + hex(page, 4);
  }
}

std::string_view to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::ok: return "ok";
    case DecodeStatus::empty: return "empty report";
    case DecodeStatus::unknown_report_id: return "unknown report ID";
    case DecodeStatus::too_short: return "report too short";
  }
  return "?";
}

std::int32_t extract_bits(std::span<const std::uint8_t> data, std::uint32_t offset, std::uint8_t bits,
                          bool is_signed) {
  std::uint64_t v = 0;
  const std::size_t first = offset / 8;
  for (std::size_t i = 0; i < 5 && first + i < data.size(); ++i) v |= std::uint64_t{data[first + i]} << (8 * i);
  v >>= offset % 8;
  const std::uint64_t mask = bits >= 32 ? 0xffffffffu : (std::uint64_t{1} << bits) - 1;
  v &= mask;
  if (is_signed && bits < 32 && (v >> (bits - 1)) & 1) v |= ~mask;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
}

void insert_bits(std::span<std::uint8_t> data, std::uint32_t offset, std::uint8_t bits, std::int32_t value) {
  for (std::uint8_t i = 0; i < bits; ++i) {
    const std::uint32_t bit = offset + i;
    if (bit / 8 >= data.size()) return;
    const auto m = static_cast<std::uint8_t>(1u << (bit % 8));
    if ((static_cast<std::uint32_t>(value) >> i) & 1)
      data[bit / 8] |= m;
    else
      data[bit / 8] &= static_cast<std::uint8_t>(~m);
  }
}

// Arrays are decoded in one pass over their slots (not one pass per usage: 1024 usages of an
// array with 65535 slots took 1.3 s per report): value - base looks up the control directly.
ReportDecoder::ReportDecoder(const HidDescriptor& descriptor, std::uint16_t device)
    : d_(descriptor), device_(device), last_(descriptor.controls.size()), known_(descriptor.controls.size()),
      array_index_(descriptor.arrays.size()), down_(descriptor.controls.size()) {
  std::vector<std::pair<std::int64_t, std::int64_t>> range(d_.arrays.size(), {INT64_MAX, INT64_MIN});
  for (const HidControl& c : d_.controls) {
    if (c.array < 0) continue;
    auto& [lo, hi] = range[static_cast<std::size_t>(c.array)];
    lo = std::min<std::int64_t>(lo, c.array_value), hi = std::max<std::int64_t>(hi, c.array_value);
    array_index_[static_cast<std::size_t>(c.array)].is_signed = c.is_signed;
  }
  for (std::size_t a = 0; a < d_.arrays.size(); ++a) {
    if (range[a].first > range[a].second) continue;  // no usable usage: nothing to look up
    ArrayIndex& ix = array_index_[a];
    // The parser gives an array at most max_controls (1024) consecutive values from logical_min.
    ix.first = slot_control_.size(), ix.size = static_cast<std::size_t>(range[a].second - range[a].first + 1);
    ix.base = range[a].first;
    slot_control_.resize(ix.first + ix.size, -1);
  }
  for (std::size_t i = 0; i < d_.controls.size(); ++i) {
    const HidControl& c = d_.controls[i];
    if (c.array < 0) continue;
    const ArrayIndex& ix = array_index_[static_cast<std::size_t>(c.array)];
    slot_control_[ix.first + static_cast<std::size_t>(c.array_value - ix.base)] = static_cast<int>(i);
  }
  reset();
}

void ReportDecoder::reset() {
  for (std::size_t i = 0; i < d_.controls.size(); ++i) {
    last_[i] = 0;
    known_[i] = d_.controls[i].info.kind == ControlKind::btn;  // buttons start released
  }
}

std::size_t ReportDecoder::expected_size(std::uint8_t id) const {
  const HidReportLayout* r = d_.report(ReportType::input, id);
  return r ? r->wire_size(d_.numbered) : 0;
}

DecodeStatus ReportDecoder::decode(std::span<const std::uint8_t> report, std::int64_t t_us,
                                   std::vector<ControlEvent>& out) {
  if (report.empty()) return DecodeStatus::empty;
  const std::uint8_t id = d_.numbered ? report[0] : 0;
  const auto data = d_.numbered ? report.subspan(1) : report;
  const HidReportLayout* layout = d_.report(ReportType::input, id);
  if (!layout) return DecodeStatus::unknown_report_id;
  if (data.size() * 8 < layout->bits) return DecodeStatus::too_short;
  for (std::size_t a = 0; a < d_.arrays.size(); ++a) {
    const HidArray& arr = d_.arrays[a];
    const ArrayIndex& ix = array_index_[a];
    if (arr.type != ReportType::input || arr.report_id != id || ix.size == 0) continue;
    for (std::size_t k = 0; k < ix.size; ++k)
      if (const int i = slot_control_[ix.first + k]; i >= 0) down_[static_cast<std::size_t>(i)] = 0;
    for (std::uint32_t s = 0; s < arr.count; ++s) {
      const std::int64_t k = std::int64_t{extract_bits(data, arr.bit_offset + s * arr.bit_size, arr.bit_size,
                                                       ix.is_signed)} - ix.base;
      if (k < 0 || k >= static_cast<std::int64_t>(ix.size)) continue;
      if (const int i = slot_control_[ix.first + static_cast<std::size_t>(k)]; i >= 0) down_[static_cast<std::size_t>(i)] = 1;
    }
  }
  for (std::size_t i = 0; i < d_.controls.size(); ++i) {
    const HidControl& c = d_.controls[i];
    if (c.type != ReportType::input || c.report_id != id) continue;
    std::int32_t v = 0;
    if (c.array >= 0) {
      v = down_[i];
    } else {
      v = extract_bits(data, c.bit_offset, c.bit_size, c.is_signed);
      const bool in_range = v >= c.info.min && v <= c.info.max;
      if (c.info.kind == ControlKind::rel) {
        // A delta of 0 is no motion: not an event, except the first after motion, which
        // tells a rate mapping (a 3D mouse's cap let go) that the axis is at rest again.
        const bool moved = known_[i] && last_[i] != 0;
        known_[i] = true;
        last_[i] = v;
        if (v != 0 || moved) out.push_back({device_, c.info.name, c.info.kind, v, t_us});
        continue;
      }
      if (c.hat && !in_range) v = -1;  // centered
      else if (c.null_state && c.info.has_range && !in_range) continue;  // no value this time
      if (c.info.kind == ControlKind::btn) v = v != 0;
    }
    if (known_[i] && last_[i] == v) continue;
    // A control's first value since opening is where it is, not a movement: the snapshot
    // (docs/devices.md, "Where the controls are").
    const bool snapshot = !known_[i];
    known_[i] = true;
    last_[i] = v;
    out.push_back({device_, c.info.name, c.info.kind, v, t_us, snapshot});
  }
  return DecodeStatus::ok;
}

}  // namespace knoblink::hid

namespace knoblink::hid {

OutputState::OutputState(const HidDescriptor& descriptor) : d_(descriptor) {
  for (const auto& r : d_.reports) reports_.emplace_back(r.wire_size(d_.numbered), std::uint8_t{0});
  for (std::size_t i = 0; i < d_.reports.size(); ++i)
    if (d_.numbered && !reports_[i].empty()) reports_[i][0] = d_.reports[i].id;
}

std::string OutputState::set(std::string_view name, std::int32_t value, std::vector<std::uint8_t>& report) {
  for (const HidControl& c : d_.controls) {
    if (c.type != ReportType::output || c.info.name.view() != name) continue;
    if (c.info.has_range && (value < c.info.min || value > c.info.max))
      return "output " + std::string(name) + " takes " + std::to_string(c.info.min) + ".." +
             std::to_string(c.info.max) + ", not " + std::to_string(value);
    for (std::size_t i = 0; i < d_.reports.size(); ++i) {
      if (d_.reports[i].type != ReportType::output || d_.reports[i].id != c.report_id) continue;
      auto data = std::span<std::uint8_t>(reports_[i]).subspan(d_.numbered ? 1 : 0);
      insert_bits(data, c.bit_offset, c.bit_size, value);
      report = reports_[i];
      if (!d_.numbered) report.insert(report.begin(), std::uint8_t{0});  // hidapi wants the 0 ID
      return {};
    }
  }
  return "no output control named " + std::string(name);
}

}  // namespace knoblink::hid
