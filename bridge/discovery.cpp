#include "bridge/discovery.hpp"

#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace knoblink {

std::string discovery_dir() {
  const char* run = std::getenv("XDG_RUNTIME_DIR");
  if (run && *run) return std::string(run) + "/knoblink";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/knoblink";
}

std::optional<BlenderInstance> parse_discovery(std::string_view text, const std::string& path, std::string& why) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  BlenderInstance b;
  b.path = path;
  const auto port = j.find("port");
  const auto token = j.find("token");
  if (port == j.end() || !port->is_number_unsigned() || port->get<std::uint64_t>() == 0 ||
      port->get<std::uint64_t>() > 65535) {
    why = "no valid \"port\"";
    return std::nullopt;
  }
  if (token == j.end() || !token->is_string() || token->get<std::string>().empty()) {
    why = "no \"token\"";
    return std::nullopt;
  }
  b.port = static_cast<std::uint16_t>(port->get<std::uint64_t>());
  b.token = token->get<std::string>();
  if (const auto pid = j.find("pid"); pid != j.end() && pid->is_number_integer()) b.pid = pid->get<long>();
  if (const auto v = j.find("blender"); v != j.end() && v->is_string()) b.blender = v->get<std::string>();
  if (const auto f = j.find("file"); f != j.end() && f->is_string()) b.file = f->get<std::string>();
  if (const auto s = j.find("started"); s != j.end() && s->is_number()) b.started = s->get<double>();
  return b;
}

std::vector<BlenderInstance> find_blenders(const std::string& dir, std::vector<std::string>& problems) {
  std::vector<BlenderInstance> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return out;  // no folder: no Blender has run the add-on here
  for (const auto& entry : it) {
    const auto name = entry.path().filename().string();
    if (name.rfind("blender-", 0) != 0 || entry.path().extension() != ".json") continue;
    const std::string path = entry.path().string();
    // Only a file of our own that nobody else can write names a Blender to trust with our
    // devices (the add-on creates it 0600 in a 0700 folder).
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // removed meanwhile: that Blender stopped
    if (st.st_uid != ::getuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
      problems.push_back(path + ": not owned by this user or writable by others; ignored");
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problems.push_back(path + ": cannot read it (another user's Blender?)");
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string why;
    auto b = parse_discovery(text.str(), path, why);
    if (!b) {
      problems.push_back(path + ": " + why);
      continue;
    }
    // A file left behind by a Blender that crashed: its process is gone.
    if (b->pid > 0 && ::kill(static_cast<pid_t>(b->pid), 0) != 0 && errno == ESRCH) continue;
    out.push_back(std::move(*b));
  }
  return out;
}

std::optional<BlenderInstance> choose_blender(const std::vector<BlenderInstance>& found, std::string_view file_filter,
                                              std::string& why) {
  std::vector<const BlenderInstance*> candidates;
  for (const auto& b : found)
    if (file_filter.empty() || b.file.find(file_filter) != std::string::npos) candidates.push_back(&b);
  const auto describe = [](const BlenderInstance& b) {
    return "Blender " + (b.blender.empty() ? std::string("?") : b.blender) + " (pid " + std::to_string(b.pid) +
           ", port " + std::to_string(b.port) + ", " + (b.file.empty() ? std::string("unsaved file") : b.file) + ")";
  };
  if (candidates.empty()) {
    why = found.empty() ? "no running Blender with the KnobLink add-on found in " + discovery_dir()
                        : "none of the " + std::to_string(found.size()) + " running Blenders has a file matching '" +
                              std::string(file_filter) + "'";
    return std::nullopt;
  }
  const auto* best = *std::max_element(candidates.begin(), candidates.end(),
                                       [](const auto* a, const auto* b) { return a->started < b->started; });
  if (found.size() == 1) why = describe(*best);
  else if (!file_filter.empty()) why = describe(*best) + ", the one whose file matches '" + std::string(file_filter) + "' of " + std::to_string(found.size()) + " running";
  else why = describe(*best) + ", the most recently started of " + std::to_string(found.size()) + " running (blender: {file: ...} picks another)";
  return *best;
}

std::optional<Endpoint> locate_blender(const BlenderConfig& cfg, std::string& why) {
  std::vector<std::string> problems;
  const auto found = find_blenders(discovery_dir(), problems);
  const bool loopback = cfg.host == "127.0.0.1" || cfg.host == "localhost" || cfg.host == "::1";
  if (cfg.port) {
    Endpoint e{cfg.host, *cfg.port, cfg.token, cfg.host + ":" + std::to_string(*cfg.port) + " (blender: in the mapping)"};
    if (e.token.empty() && loopback)
      for (const auto& b : found)
        if (b.port == e.port) {
          e.token = b.token;
          e.via += ", token from " + b.path;
        }
    return e;
  }
  auto b = choose_blender(found, cfg.file, why);
  for (const auto& p : problems) why += "; skipped " + p;
  if (!b) return std::nullopt;
  return Endpoint{cfg.host, b->port, cfg.token.empty() ? b->token : cfg.token, why};
}

}  // namespace knoblink
