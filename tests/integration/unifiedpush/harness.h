// The pieces of a UnifiedPush test on a real, private D-Bus: a dbus-daemon of
// the test's own (never the user's session bus), the fake app
// (fake_connector.py: a connector with its own keys and its own decryptor) as
// a child process, and the JSON-line events it prints, read with deadlines.
//
// The programs come from the environment meson sets for the test:
// $WEBPUSHD_TEST_DBUS_DAEMON, $WEBPUSHD_TEST_PYTHON (a python3 with gi and
// cryptography) and $WEBPUSHD_TEST_CONNECTOR (fake_connector.py).
// Failures throw SupportError, as everywhere in tests/integration/support.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/support.h"

namespace webpush::testing {

using Json = nlohmann::json;
using EventPredicate = std::function<bool(const Json&)>;

/// Why these tests cannot run on this machine (a program or Python module
/// missing), or nullopt when they can.
std::optional<std::string> missing_prerequisite();

/// dbus-daemon --session with a generated configuration: it listens on a
/// socket in `dir` and activates services from `dir`/services. The address is
/// the one it printed (--print-address). Stopped (SIGTERM, then SIGKILL) by
/// the destructor.
class PrivateBus {
 public:
  explicit PrivateBus(const std::filesystem::path& dir);
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  [[nodiscard]] const std::string& address() const noexcept { return address_; }
  /// Writes `<name>.service` into the service directory: D-Bus activation of
  /// `name` runs `exec` (words without blanks).
  void add_activatable(const std::string& name, const std::vector<std::string>& exec) const;
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::string address_;
};

/// JSON lines read from a descriptor (owned). Events are kept in arrival
/// order; take() hands out each matching event once, in any order of calls.
class EventStream {
 public:
  EventStream(int fd, std::string what);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  /// The first event not taken yet that matches `pred`, waiting until
  /// `timeout`; it is then taken. `while_waiting` runs between reads (at least
  /// every 50 ms). Throws SupportError with everything read so far on timeout.
  Json take(const EventPredicate& pred, Millis timeout, const std::function<void()>& while_waiting = {});
  /// Reads until `done()` holds (it is checked before each read), as take() waits.
  void wait_until(const std::function<bool()>& done, const std::string& what, Millis timeout,
                  const std::function<void()>& while_waiting = {});
  /// Reads what has arrived, waiting at most `wait` for the first byte.
  void read_available(Millis wait = Millis(0));
  /// Every event read so far that matches `pred`, taken or not.
  [[nodiscard]] std::vector<Json> all(const EventPredicate& pred) const;
  [[nodiscard]] std::string dump() const;

 private:
  bool read_once(Millis wait);  // false on timeout or end of stream

  int fd_;
  std::string what_;
  std::string buffer_;
  std::vector<Json> events_;
  std::vector<bool> taken_;
};

/// `fake_connector.py` as a child of the test, commands on its stdin, events
/// from its stdout; stderr goes to `<dir>/<name>.err`. Killed by the destructor.
struct AppOptions {
  std::string name;            ///< the bus name it owns
  int api = 2;                 ///< Connector1/Distributor1 or Connector2/Distributor2
  std::filesystem::path keys;  ///< its Web Push keys, loaded or saved there (default: <dir>/<name>.keys)
};

class FakeApp {
 public:
  /// Starts it and waits for its "ready" event (it owns its name then).
  FakeApp(const std::filesystem::path& dir, AppOptions options);
  ~FakeApp();
  FakeApp(const FakeApp&) = delete;
  FakeApp& operator=(const FakeApp&) = delete;

  /// The command line for D-Bus activation of the same app: events appended to
  /// `events` (e.g. a FIFO), no commands.
  [[nodiscard]] std::vector<std::string> activation_command(const std::filesystem::path& events) const;
  void command(const std::string& line);
  /// Waits for the process to exit (after `quit`); returns its exit status.
  int wait_exit(Millis timeout = kDefaultTimeout);

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }
  [[nodiscard]] int api() const noexcept { return options_.api; }
  [[nodiscard]] EventStream& events() noexcept { return *events_; }
  [[nodiscard]] std::string describe() const;  // its events and stderr, for failure messages

 private:
  AppOptions options_;
  std::filesystem::path err_file_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::unique_ptr<EventStream> events_;
};

/// A command run in the background, stdout and stderr to `log`; killed by the
/// destructor if it still runs.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, std::filesystem::path log);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  /// Its exit status. Throws SupportError on timeout.
  int wait_exit(Millis timeout);
  [[nodiscard]] std::string output() const;

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

/// Event predicates.
EventPredicate event_is(const std::string& type);
EventPredicate event_is(const std::string& type, const std::string& token);
EventPredicate message_with_text(const std::string& text);

}  // namespace webpush::testing
