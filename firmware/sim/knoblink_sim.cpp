// knoblink-sim: runs the knob-box firmware on libsimavr at real-time pace and
// presents its UART as a pty, like a USB-serial Arduino. Inputs are driven by
// line commands on stdin (and an optional unix socket); LED changes are
// printed. The interface is documented in docs/firmware.md.
//
// Board wiring emulated (the pin block at the top of knobbox.ino):
//   k1..k4 ADC0..3, e1 PD2/PD3 (D2/D3), e2 PB2/PB3 (D10/D11),
//   b1..b6 PD4..PD7, PB0, PB1 (D4..D9), l1 PB4 (D12), l2 PB5 (D13).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_adc.h>
#include <avr_eeprom.h>
#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_hex.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "knobbox_core.h"
#include "sim_commands.hpp"

namespace {

using knoblink::sim::Command;

constexpr std::uint32_t kFrequency = 16000000;
constexpr int kCyclesPerUs = kFrequency / 1000000;

struct Pin {
  char port;
  int bit;
};
constexpr Pin kEncPins[knoblink::sim::kEncoders][2] = {{{'D', 2}, {'D', 3}}, {{'B', 2}, {'B', 3}}};
constexpr Pin kButtonPins[knoblink::sim::kButtons] = {{'D', 4}, {'D', 5}, {'D', 6},
                                                      {'D', 7}, {'B', 0}, {'B', 1}};
constexpr Pin kLedPins[knobbox::kLeds] = {{'B', 4}, {'B', 5}};

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "knoblink-sim: %s\n", what.c_str());
  std::exit(2);
}

struct Options {
  std::string firmware;
  std::string bootloader;
  std::string link;
  std::string socket_path;
  std::string uid = "random";
  int noise = 0;
  double speed = 1.0;
  bool reset_on_open = true;
  bool keep_running = false;
};

const char kUsage[] =
    "usage: knoblink-sim [options] [FIRMWARE.elf|.hex]\n"
    "Runs the knob-box firmware on an emulated ATmega328P (16 MHz) and exposes its\n"
    "UART as a pty. Prints 'pty /dev/pts/N' first; reads commands on stdin:\n"
    "  knob I VALUE      I 1..4, VALUE 0..1023 (ADC counts) or 0mv..5000mv\n"
    "  enc I STEPS [US]  I 1..2, STEPS signed detents (+ clockwise), US per edge (250)\n"
    "  press I [bounce] | release I [bounce] | bounce I     I 1..6\n"
    "  reset | unplug | replug | sync | quit\n"
    "Prints 'led I 0|1' when an LED changes, 'sync' after a sync, 'error ...' on bad input.\n"
    "options:\n"
    "  --link PATH         keep a symlink PATH -> the current pty\n"
    "  --socket PATH       also accept commands on a unix socket (output goes there too)\n"
    "  --bootloader HEX    load a bootloader (e.g. ATmegaBOOT_168_atmega328.hex) and start in it\n"
    "  --uid HEX|blank|random  uid in EEPROM (default random; blank = erased, firmware makes one)\n"
    "  --noise N           add uniform ADC noise of +-N counts to every conversion\n"
    "  --speed F           pace: 1 = real time (default), 0 = as fast as possible\n"
    "  --no-reset-on-open  do not reset the board when a program opens the pty\n"
    "  --keep-running      keep running when stdin ends\n";

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value\n" + kUsage);
      return argv[++i];
    };
    if (a == "--link") o.link = value();
    else if (a == "--socket") o.socket_path = value();
    else if (a == "--bootloader") o.bootloader = value();
    else if (a == "--uid") o.uid = value();
    else if (a == "--noise") o.noise = std::atoi(value().c_str());
    else if (a == "--speed") o.speed = std::atof(value().c_str());
    else if (a == "--no-reset-on-open") o.reset_on_open = false;
    else if (a == "--keep-running") o.keep_running = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a + "\n" + kUsage);
    else if (o.firmware.empty()) o.firmware = a;
    else die("more than one firmware file given");
  }
  if (o.firmware.empty() && o.bootloader.empty()) die(std::string("no firmware given\n") + kUsage);
  if (o.noise < 0 || o.noise > 100) die("--noise must be 0..100 counts");
  if (o.speed < 0) die("--speed must be >= 0");
  return o;
}

class Sim {
 public:
  explicit Sim(Options opt) : opt_(std::move(opt)), rng_(std::random_device{}()) {}

  void run();

 private:
  // A scheduled change of one input pin, at an AVR cycle.
  struct PinChange {
    Pin pin;
    bool level;
  };

  void load();
  void wire();
  void reset_board();
  void assert_inputs();
  void hold_externally(char port);
  void drive(Pin pin, bool level);
  avr_irq_t* pin_irq(Pin pin) { return avr_io_getirq(avr_, AVR_IOCTL_IOPORT_GETIRQ(pin.port), pin.bit); }
  bool& level_of(Pin pin) { return levels_[pin.port - 'A'][pin.bit]; }
  void schedule(avr_cycle_count_t at, Pin pin, bool level) { queue_.insert({at, PinChange{pin, level}}); }
  avr_cycle_count_t start_for(int group, avr_cycle_count_t len);

  void plug();
  void unplug();
  void emit(const std::string& line);
  void handle(const std::string& line);
  void execute(const Command& c);
  void read_commands(int fd, std::string& buf, bool is_stdin);
  void service_pty();
  void step_to(avr_cycle_count_t target);

  static void on_uart_out(avr_irq_t*, uint32_t value, void* param) {
    auto* s = static_cast<Sim*>(param);
    if (s->reader_open_) s->tx_.push_back(static_cast<char>(value));
  }
  static void on_xon(avr_irq_t*, uint32_t, void* param) { static_cast<Sim*>(param)->xon_ = true; }
  static void on_xoff(avr_irq_t*, uint32_t, void* param) { static_cast<Sim*>(param)->xon_ = false; }
  static void on_adc_trigger(avr_irq_t*, uint32_t value, void* param);
  static void on_led(avr_irq_t* irq, uint32_t value, void* param);

  Options opt_;
  std::mt19937 rng_;
  avr_t* avr_ = nullptr;
  avr_irq_t* led_irq_[knobbox::kLeds] = {};
  bool led_[knobbox::kLeds] = {};
  bool levels_[4][8];  // wanted level of each input pin, by port A..D
  std::int32_t knob_mv_[knoblink::sim::kKnobs] = {};
  std::multimap<avr_cycle_count_t, PinChange> queue_;
  avr_cycle_count_t busy_until_[knoblink::sim::kEncoders + knoblink::sim::kButtons] = {};
  std::vector<avr_cycle_count_t> syncs_;  // cycles at which to print "sync"

  int master_ = -1;
  std::string pty_name_;
  bool plugged_ = false;
  bool reader_open_ = false;
  bool xon_ = true;
  std::string tx_;          // firmware -> pty, not yet written
  std::deque<char> rx_;     // pty -> firmware, not yet in the UART
  int listen_ = -1;
  std::vector<int> clients_;
  std::map<int, std::string> client_bufs_;
  std::string stdin_buf_;
  bool stdin_open_ = true;
  bool quit_ = false;
};

void Sim::on_adc_trigger(avr_irq_t*, uint32_t value, void* param) {
  auto* s = static_cast<Sim*>(param);
  union {  // as simavr's avr_adc.c packs it
    avr_adc_mux_t mux;
    uint32_t v;
  } e;
  e.v = value;
  const avr_adc_mux_t mux = e.mux;
  if (mux.kind != ADC_MUX_SINGLE || mux.src >= knoblink::sim::kKnobs) return;
  std::int32_t mv = s->knob_mv_[mux.src];
  if (s->opt_.noise) {
    std::uniform_int_distribution<int> d(-s->opt_.noise, s->opt_.noise);
    mv = std::clamp(mv + knoblink::sim::counts_to_mv(d(s->rng_) + 1023) - knoblink::sim::counts_to_mv(1023),
                    0, knoblink::sim::kVccMv);
  }
  avr_raise_irq(avr_io_getirq(s->avr_, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + mux.src),
                static_cast<uint32_t>(mv));
}

void Sim::on_led(avr_irq_t* irq, uint32_t value, void* param) {
  auto* s = static_cast<Sim*>(param);
  for (int i = 0; i < knobbox::kLeds; ++i) {
    if (s->led_irq_[i] != irq || s->led_[i] == (value != 0)) continue;
    s->led_[i] = value != 0;
    s->emit("led " + std::to_string(i + 1) + (s->led_[i] ? " 1" : " 0"));
  }
}

void Sim::load() {
  avr_ = avr_make_mcu_by_name("atmega328p");
  if (!avr_) die("libsimavr has no atmega328p");
  avr_init(avr_);
  avr_->frequency = kFrequency;
  avr_->vcc = avr_->avcc = avr_->aref = knoblink::sim::kVccMv;  // else the reference is 3.3 V
  avr_->log = LOG_WARNING;

  auto load_hex = [&](const std::string& path) -> std::uint32_t {
    ihex_chunk_p chunks = nullptr;
    const int n = read_ihex_chunks(path.c_str(), &chunks);
    if (n <= 0) die("cannot read Intel hex " + path);
    std::uint32_t lowest = ~0u;
    for (int i = 0; i < n; ++i) {
      if (chunks[i].baseaddr + chunks[i].size > avr_->flashend + 1) die(path + ": data past the end of flash");
      avr_loadcode(avr_, chunks[i].data, chunks[i].size, chunks[i].baseaddr);
      lowest = std::min(lowest, chunks[i].baseaddr);
    }
    free_ihex_chunks(chunks);
    return lowest;
  };

  const std::string& fw = opt_.firmware;
  if (!fw.empty()) {
    if (fw.size() > 4 && fw.substr(fw.size() - 4) == ".hex") {
      load_hex(fw);
    } else {
      // elf_firmware_t's size depends on how libsimavr was built: give it headroom.
      union {
        elf_firmware_t fw;
        char pad[65536];
      } f;
      std::memset(&f, 0, sizeof f);
      if (elf_read_firmware(fw.c_str(), &f.fw) != 0) die("cannot read ELF firmware " + fw);
      f.fw.frequency = kFrequency;
      std::snprintf(f.fw.mmcu, sizeof f.fw.mmcu, "atmega328p");
      avr_load_firmware(avr_, &f.fw);
      avr_->frequency = kFrequency;
      avr_->vcc = avr_->avcc = avr_->aref = knoblink::sim::kVccMv;
    }
  }
  if (!opt_.bootloader.empty()) {
    // BOOTRST programmed: reset jumps into the boot section.
    avr_->reset_pc = load_hex(opt_.bootloader);
    avr_->pc = avr_->reset_pc;
  }
  avr_->codeend = avr_->flashend;  // flash may be written (bootloader): run all of it

  if (opt_.uid != "blank") {
    std::uint32_t uid = static_cast<std::uint32_t>(rng_());
    if (opt_.uid != "random") {
      char* end = nullptr;
      uid = static_cast<std::uint32_t>(std::strtoul(opt_.uid.c_str(), &end, 16));
      if (opt_.uid.empty() || opt_.uid.size() > 8 || *end) die("--uid wants up to 8 hex digits, blank or random");
    }
    uint8_t rec[knobbox::UidRecord::kSize];
    knobbox::UidRecord::encode(uid, rec);
    avr_eeprom_desc_t d{rec, 0, sizeof rec};
    avr_ioctl(avr_, AVR_IOCTL_EEPROM_SET, &d);
  }
}

void Sim::wire() {
  uint32_t flags = 0;
  avr_ioctl(avr_, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
  flags &= ~(AVR_UART_FLAG_POLL_SLEEP | AVR_UART_FLAG_STDIO);
  avr_ioctl(avr_, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
  avr_irq_register_notify(avr_io_getirq(avr_, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, this);
  avr_irq_register_notify(avr_io_getirq(avr_, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_xon, this);
  avr_irq_register_notify(avr_io_getirq(avr_, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_xoff, this);
  avr_irq_register_notify(avr_io_getirq(avr_, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), on_adc_trigger, this);
  for (int i = 0; i < knobbox::kLeds; ++i) {
    led_irq_[i] = pin_irq(kLedPins[i]);
    avr_irq_register_notify(led_irq_[i], on_led, this);
  }
  for (auto& port : levels_)
    for (bool& l : port) l = true;  // pulled up: buttons released, encoders at a detent
  assert_inputs();
}

// simavr ignores a repeated pin value, and a reset clears the PIN registers,
// so after a reset every input is toggled to its level.
void Sim::assert_inputs() {
  auto one = [&](Pin p) {
    avr_irq_t* irq = pin_irq(p);
    const bool want = level_of(p);
    avr_raise_irq(irq, !want);
    avr_raise_irq(irq, want);
  };
  for (const auto& e : kEncPins)
    for (const Pin& p : e) one(p);
  for (const Pin& p : kButtonPins) one(p);
  hold_externally('B');
  hold_externally('D');
}

// Every write of a port re-drives its input pins with their pull-ups (simavr's
// avr_ioport_update_irqs): an LED's digitalWrite on port B (l1, l2) would set a
// held button there (b5, b6) or an encoder pin (e2) back to 1, and the press is
// lost. Telling simavr these pins are driven from outside, at their levels, makes
// a port write keep them, as the wires of a real board do.
void Sim::hold_externally(char port) {
  uint8_t mask = 0, value = 0;
  auto add = [&](Pin p) {
    if (p.port != port) return;
    mask = static_cast<uint8_t>(mask | (1u << p.bit));
    if (level_of(p)) value = static_cast<uint8_t>(value | (1u << p.bit));
  };
  for (const auto& e : kEncPins)
    for (const Pin& p : e) add(p);
  for (const Pin& p : kButtonPins) add(p);
  avr_ioport_external_t ext{};
  ext.name = static_cast<uint8_t>(port) & 0x7Fu;
  ext.mask = mask;
  ext.value = value;
  avr_ioctl(avr_, AVR_IOCTL_IOPORT_SET_EXTERNAL(port), &ext);
}

void Sim::drive(Pin pin, bool level) {
  level_of(pin) = level;
  hold_externally(pin.port);
  avr_raise_irq(pin_irq(pin), level);
}

void Sim::reset_board() {
  avr_reset(avr_);
  xon_ = true;
  rx_.clear();
  assert_inputs();
}

// Inputs of one group (an encoder, a button) change in order: a new command
// starts after the previous one's edges.
avr_cycle_count_t Sim::start_for(int group, avr_cycle_count_t len) {
  const avr_cycle_count_t start = std::max(avr_->cycle, busy_until_[group]);
  busy_until_[group] = start + len;
  return start;
}

void Sim::execute(const Command& c) {
  using Op = Command::Op;
  switch (c.op) {
    case Op::none:
      return;
    case Op::error:
      emit("error " + c.error);
      std::fprintf(stderr, "knoblink-sim: %s\n", c.error.c_str());
      return;
    case Op::knob:
      knob_mv_[c.index] = c.value;
      return;
    case Op::enc: {
      // Clockwise: A falls first, AB 11 -> 01 -> 00 -> 10 -> 11.
      static const bool kA[4] = {false, false, true, true};
      static const bool kB[4] = {true, false, false, true};
      const avr_cycle_count_t edge = static_cast<avr_cycle_count_t>(c.edge_us) * kCyclesPerUs;
      const int edges = 4 * std::abs(c.value);
      avr_cycle_count_t t = start_for(c.index, edge * edges);
      const Pin a = kEncPins[c.index][0], b = kEncPins[c.index][1];
      for (int k = 0; k < edges; ++k) {
        const int phase = c.value > 0 ? k % 4 : 3 - (k + 1) % 4;  // reverse: 11 -> 10 -> 00 -> 01 -> 11
        t += edge;
        schedule(t, a, kA[phase]);
        schedule(t, b, kB[phase]);
      }
      return;
    }
    case Op::press:
    case Op::release: {
      const bool level = c.op == Op::release;  // pressed pulls the pin low
      const Pin p = kButtonPins[c.index];
      // Contact bounce: the new level, back, ... settling within 3 ms (the
      // firmware debounces over 5 ms).
      static const int kBounceUs[] = {0, 200, 500, 900, 1500, 2000, 2800};
      const int n = c.bounce ? static_cast<int>(std::size(kBounceUs)) : 1;
      const avr_cycle_count_t t = start_for(knoblink::sim::kEncoders + c.index,
                                            static_cast<avr_cycle_count_t>(kBounceUs[n - 1]) * kCyclesPerUs + 1);
      for (int k = 0; k < n; ++k)
        schedule(t + static_cast<avr_cycle_count_t>(kBounceUs[k]) * kCyclesPerUs, p, k % 2 == 0 ? level : !level);
      return;
    }
    case Op::reset:
      reset_board();
      return;
    case Op::unplug:
      if (plugged_) unplug();
      else emit("error already unplugged");
      return;
    case Op::replug:
      if (plugged_) unplug();
      plug();
      return;
    case Op::noise:
      if (reader_open_) tx_ += c.bytes;  // as if the cable picked it up between two UART lines
      return;
    case Op::sync: {
      avr_cycle_count_t last = avr_->cycle;
      for (auto b : busy_until_) last = std::max(last, b);
      syncs_.push_back(last);
      return;
    }
    case Op::quit:
      quit_ = true;
      return;
  }
}

void Sim::plug() {
  int slave = -1;
  char name[256];
  if (openpty(&master_, &slave, name, nullptr, nullptr) != 0) die(std::string("openpty: ") + std::strerror(errno));
  termios t;
  tcgetattr(slave, &t);
  cfmakeraw(&t);  // no echo: the board must not hear its own output
  cfsetspeed(&t, B115200);
  tcsetattr(slave, TCSANOW, &t);
  close(slave);  // no reader yet: the master reports POLLHUP until one opens it
  fcntl(master_, F_SETFL, fcntl(master_, F_GETFL) | O_NONBLOCK);
  fcntl(master_, F_SETFD, FD_CLOEXEC);
  pty_name_ = name;
  if (!opt_.link.empty()) {
    const std::string tmp = opt_.link + ".tmp" + std::to_string(getpid());
    unlink(tmp.c_str());
    if (symlink(name, tmp.c_str()) != 0 || rename(tmp.c_str(), opt_.link.c_str()) != 0)
      die("cannot link " + opt_.link + " -> " + name + ": " + std::strerror(errno));
  }
  plugged_ = true;
  reader_open_ = false;
  tx_.clear();
  reset_board();
  emit("pty " + pty_name_);
}

// The link goes first, as /dev/ttyACM0 vanishes with the board: whoever sees
// the hangup finds the path gone.
void Sim::unplug() {
  if (!opt_.link.empty()) unlink(opt_.link.c_str());
  close(master_);
  master_ = -1;
  plugged_ = false;
  reader_open_ = false;
}

void Sim::emit(const std::string& line) {
  const std::string l = line + "\n";
  std::fputs(l.c_str(), stdout);
  std::fflush(stdout);
  for (int fd : clients_) (void)!write(fd, l.data(), l.size());
}

void Sim::handle(const std::string& line) { execute(knoblink::sim::parse_command(line)); }

void Sim::read_commands(int fd, std::string& buf, bool is_stdin) {
  char tmp[4096];
  const ssize_t n = read(fd, tmp, sizeof tmp);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (!buf.empty()) handle(buf);
    buf.clear();
    if (is_stdin) {
      stdin_open_ = false;
      if (!opt_.keep_running) quit_ = true;
    } else {
      close(fd);
      clients_.erase(std::find(clients_.begin(), clients_.end(), fd));
      client_bufs_.erase(fd);
    }
    return;
  }
  buf.append(tmp, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
    handle(buf.substr(0, nl));
    buf.erase(0, nl + 1);
  }
}

// Notices a program opening or closing the pty, moves bytes both ways.
void Sim::service_pty() {
  if (!plugged_) return;
  pollfd p{master_, POLLIN, 0};
  poll(&p, 1, 0);
  const bool open = !(p.revents & POLLHUP);
  if (open && !reader_open_ && opt_.reset_on_open) reset_board();  // DTR pulse on open, as on an Uno
  if (!open) tx_.clear();
  reader_open_ = open;
  if (!open) return;
  if (p.revents & POLLIN) {
    char buf[512];
    const ssize_t n = read(master_, buf, sizeof buf);
    for (ssize_t i = 0; i < n; ++i) rx_.push_back(buf[i]);
  }
  if (!tx_.empty()) {
    const ssize_t n = write(master_, tx_.data(), tx_.size());
    if (n > 0) tx_.erase(0, static_cast<std::size_t>(n));
    if (tx_.size() > (1u << 20)) tx_.clear();  // nobody reads: drop, as a full USB buffer does
  }
  avr_irq_t* in = avr_io_getirq(avr_, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
  while (xon_ && !rx_.empty()) {
    avr_raise_irq(in, static_cast<uint8_t>(rx_.front()));
    rx_.pop_front();
  }
}

void Sim::step_to(avr_cycle_count_t target) {
  while (avr_->cycle < target) {
    while (!queue_.empty() && queue_.begin()->first <= avr_->cycle) {
      const PinChange ch = queue_.begin()->second;
      queue_.erase(queue_.begin());
      drive(ch.pin, ch.level);
    }
    const int state = avr_run(avr_);
    if (state == cpu_Done || state == cpu_Crashed) {
      std::fprintf(stderr, "knoblink-sim: the AVR %s at pc 0x%x; resetting\n",
                   state == cpu_Done ? "stopped" : "crashed", avr_->pc);
      reset_board();
    }
  }
  for (auto it = syncs_.begin(); it != syncs_.end();) {
    if (*it <= avr_->cycle) {
      emit("sync");
      it = syncs_.erase(it);
    } else {
      ++it;
    }
  }
}

volatile sig_atomic_t g_stop = 0;

void Sim::run() {
  load();
  wire();
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  if (!opt_.socket_path.empty()) {
    listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (opt_.socket_path.size() >= sizeof addr.sun_path) die("--socket path too long");
    std::strcpy(addr.sun_path, opt_.socket_path.c_str());
    unlink(addr.sun_path);
    if (bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_, 4) != 0)
      die("cannot listen on " + opt_.socket_path + ": " + std::strerror(errno));
  }
  plug();

  constexpr double kSlice = 0.001;  // run the AVR in 1 ms slices of real time
  double t0 = now_s();
  avr_cycle_count_t c0 = avr_->cycle;
  const double cpu0 = static_cast<double>(clock()) / CLOCKS_PER_SEC;
  const double start = t0;
  avr_cycle_count_t ran = 0;
  while (!quit_ && !g_stop) {
    service_pty();
    double wait = 0;
    if (plugged_) {
      const double t = now_s();
      avr_cycle_count_t target;
      if (opt_.speed == 0) {
        target = avr_->cycle + static_cast<avr_cycle_count_t>(kSlice * kFrequency);
      } else {
        target = c0 + static_cast<avr_cycle_count_t>((t - t0) * opt_.speed * kFrequency);
        const auto max_lag = static_cast<avr_cycle_count_t>(0.05 * kFrequency);
        if (target > avr_->cycle + max_lag) {  // fell behind (busy host): slow down, never burst
          target = avr_->cycle + max_lag;
          t0 = t;
          c0 = target;
        }
      }
      const avr_cycle_count_t before = avr_->cycle;
      step_to(target);
      ran += avr_->cycle - before;
      service_pty();
      if (opt_.speed != 0) {
        wait = static_cast<double>(avr_->cycle + static_cast<avr_cycle_count_t>(kSlice * kFrequency) - c0) /
                   (opt_.speed * kFrequency) + t0 - now_s();
      }
    } else {
      wait = 0.05;
      t0 = now_s();
      c0 = avr_->cycle;
    }
    std::vector<pollfd> fds;
    if (stdin_open_) fds.push_back({0, POLLIN, 0});
    if (listen_ >= 0) fds.push_back({listen_, POLLIN, 0});
    for (int fd : clients_) fds.push_back({fd, POLLIN, 0});
    if (plugged_ && reader_open_) fds.push_back({master_, POLLIN, 0});
    const int ms = wait > 0 ? static_cast<int>(wait * 1000 + 0.999) : 0;
    if (poll(fds.data(), fds.size(), ms) <= 0) continue;
    for (const pollfd& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR)) || p.fd == master_) continue;
      // A command handled earlier in this loop (unplug, replug) may have closed the
      // pty whose stale entry is still in fds: only known clients are read below.
      const bool client = std::find(clients_.begin(), clients_.end(), p.fd) != clients_.end();
      if (p.fd == 0) {
        read_commands(0, stdin_buf_, true);
      } else if (p.fd == listen_) {
        const int c = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) clients_.push_back(c);
      } else if (client) {
        read_commands(p.fd, client_bufs_[p.fd], false);
      }
    }
  }
  const double real = now_s() - start;
  const double cpu = static_cast<double>(clock()) / CLOCKS_PER_SEC - cpu0;
  std::fprintf(stderr, "knoblink-sim: ran %.3f s of AVR time in %.3f s (pace %.3f), cpu %.3f s (%.0f%%)\n",
               static_cast<double>(ran) / kFrequency, real, static_cast<double>(ran) / kFrequency / real, cpu,
               100 * cpu / real);
  if (plugged_) unplug();
  if (!opt_.socket_path.empty()) unlink(opt_.socket_path.c_str());
}

}  // namespace

// libsimavr logs to stdout; stdout belongs to our protocol, so its errors and
// warnings go to stderr and the rest is dropped.
void log_to_stderr(avr_t*, const int level, const char* format, va_list ap) {
  if (level > LOG_WARNING) return;
  std::fputs("knoblink-sim: simavr: ", stderr);
  std::vfprintf(stderr, format, ap);
}

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  avr_global_logger_set(log_to_stderr);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  Sim sim(std::move(opt));
  sim.run();
  return 0;
}
