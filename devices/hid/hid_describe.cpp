#include "devices/hid/hid_describe.hpp"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace knoblink::hid {
namespace {

std::string format(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string_view type_name(ReportType t) {
  switch (t) {
    case ReportType::input: return "input";
    case ReportType::output: return "output";
    case ReportType::feature: return "feature";
  }
  return "?";
}

std::string usage_text(std::uint32_t u) {
  return usage_page_name(static_cast<std::uint16_t>(u >> 16)) + format(" 0x%02x", u & 0xffff);
}

// Hex text: every token is hex digits (optionally 0x-prefixed, comma-separated), comments skipped.
bool parse_hex_text(const std::string& text, std::vector<std::uint8_t>& out) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    for (const char* c : {"#", "//"})
      if (auto p = line.find(c); p != std::string::npos) line.erase(p);
    for (char& ch : line)
      if (ch == ',') ch = ' ';
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) w.erase(0, 2);
      if (w.empty() || w.size() % 2) return false;
      for (std::size_t i = 0; i < w.size(); i += 2) {
        if (!std::isxdigit(static_cast<unsigned char>(w[i])) || !std::isxdigit(static_cast<unsigned char>(w[i + 1])))
          return false;
        out.push_back(static_cast<std::uint8_t>(std::stoul(w.substr(i, 2), nullptr, 16)));
      }
    }
  }
  return true;
}

}  // namespace

std::string describe_controls(const HidDescriptor& d) {
  std::string out;
  out += "# application: " + (d.application ? usage_text(d.application) : std::string("none")) + "\n";
  for (const auto& r : d.reports) {
    if (r.type == ReportType::feature) continue;
    out += format("# %s report %u: %zu bytes%s\n", std::string(type_name(r.type)).c_str(), unsigned{r.id},
                  r.wire_size(d.numbered), d.numbered ? " with the ID byte" : "");
  }
  for (const auto& w : d.warnings) out += "# warning: " + w + "\n";
  for (const auto& c : d.controls) {
    std::string kind(to_string(c.info.kind));
    if (c.info.has_range) kind += format(" %d %d", c.info.min, c.info.max);
    std::string where = format("%s report %u bits %u+%u", std::string(type_name(c.type)).c_str(),
                               unsigned{c.report_id}, c.bit_offset, unsigned{c.bit_size});
    if (c.array >= 0) where = format("%s report %u array value %d", std::string(type_name(c.type)).c_str(),
                                     unsigned{c.report_id}, c.array_value);
    out += format("%-16s %-16s %s (%s)%s\n", c.info.name.str().c_str(), kind.c_str(), where.c_str(),
                  usage_text(c.usage).c_str(), c.hat ? ", centered = -1" : "");
  }
  return out;
}

std::vector<std::uint8_t> load_descriptor_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return {};
  }
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (raw.empty()) {
    error = path + ": empty file";
    return {};
  }
  std::vector<std::uint8_t> bytes;
  if (parse_hex_text(raw, bytes) && !bytes.empty()) return bytes;
  return std::vector<std::uint8_t>(raw.begin(), raw.end());
}

bool describe_descriptor_file(const std::string& path, std::string& text) {
  std::string error;
  const auto bytes = load_descriptor_file(path, error);
  if (bytes.empty()) {
    text = error;
    return false;
  }
  const ParseResult r = parse_descriptor(bytes);
  if (!r.descriptor) {
    text = path + ": " + r.error;
    return false;
  }
  text = format("# %s: %zu bytes\n", path.c_str(), bytes.size()) + describe_controls(*r.descriptor);
  return true;
}

std::vector<HidListing> list_devices(HidBackend& backend) {
  std::vector<HidListing> out;
  for (auto& info : backend.enumerate()) {
    HidListing l{std::move(info), std::nullopt, {}};
    const auto bytes = backend.report_descriptor(l.info.path, l.error);
    if (!bytes.empty()) {
      ParseResult r = parse_descriptor(bytes);
      l.descriptor = std::move(r.descriptor);
      l.error = r.error;
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string describe_listing(const std::vector<HidListing>& devices) {
  if (devices.empty()) return "no HID devices found\n";
  std::string out;
  for (const auto& l : devices) {
    const HidMatch m{l.info.vid, l.info.pid, l.info.serial};
    std::string name = l.info.manufacturer;
    if (!l.info.product.empty()) name += (name.empty() ? "" : " ") + l.info.product;
    out += format("hid %s  %s  %s  (%s)\n", m.str().c_str(), name.c_str(), l.info.path.c_str(),
                  usage_text(usage(l.info.usage_page, l.info.usage)).c_str());
    out += "    hid: {match: \"" + m.str() + "\"}\n";
    if (!l.descriptor) {
      out += "    cannot describe: " + l.error + "\n";
      continue;
    }
    std::istringstream lines(describe_controls(*l.descriptor));
    for (std::string line; std::getline(lines, line);) out += "    " + line + "\n";
  }
  return out;
}

}  // namespace knoblink::hid
