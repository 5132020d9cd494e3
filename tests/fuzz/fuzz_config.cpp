// The mapping-file loader (bridge/config.hpp load_config_text) on arbitrary text: it answers
// a config or a list of errors, never both, never neither, and nothing escapes it.
#include <string>

#include "bridge/config.hpp"
#include "fuzz_split.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const knoblink::LoadResult r = knoblink::load_config_text(text, "fuzz.yaml");
  KNOBLINK_FUZZ_CHECK(r.config.has_value() == r.errors.empty());
  for (const std::string& e : r.errors) KNOBLINK_FUZZ_CHECK(!e.empty());
  if (r.config) {
    for (const auto& m : r.config->mappings) {
      KNOBLINK_FUZZ_CHECK(m.line > 0);
      (void)m.path();
    }
  }
  return 0;
}
