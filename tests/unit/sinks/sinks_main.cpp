// main() of the sinks test programs. Run as `PROGRAM --child MODE …` it is
// instead the command the tests make the sinks run (the program re-executes
// itself, so no helper has to be built and found; no shell anywhere):
//   --child dump DIR [ARGS…]   writes DIR/argv (every argv entry, NUL-terminated),
//                              DIR/env (WEBPUSH_* entries, NUL-terminated, sorted),
//                              DIR/stdin (stdin's bytes), DIR/status (SigBlk/SigIgn
//                              lines of /proc/self/status), DIR/fds (open descriptors),
//                              then DIR/done
//   --child gate LOCKFILE      waits for a shared flock on LOCKFILE, exits 0
//   --child exit CODE          exits with CODE
//   --child record FILE URL    writes URL and $XDG_ACTIVATION_TOKEN to FILE (via a rename)
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

extern char** environ;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << bytes;
  }
  std::rename(tmp.c_str(), path.c_str());
}

int dump(int argc, char** argv) {
  const std::string dir = argv[3];
  // Descriptors first, before this program opens any of its own.
  std::string fds;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.' || std::atoi(e->d_name) == dirfd(d)) continue;
      fds += std::string(e->d_name) + "\n";
    }
    closedir(d);
  }
  std::string all_argv;
  for (int i = 0; i < argc; ++i) all_argv += std::string(argv[i]) + '\0';
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "WEBPUSH_", 8) == 0) env.emplace_back(*e);
  }
  std::sort(env.begin(), env.end());
  std::string all_env;
  for (const auto& e : env) all_env += e + '\0';
  const std::string in{std::istreambuf_iterator<char>(std::cin.rdbuf()), std::istreambuf_iterator<char>()};
  std::ifstream status_file("/proc/self/status");
  std::string line;
  std::string status;
  while (std::getline(status_file, line)) {
    if (line.rfind("SigBlk:", 0) == 0 || line.rfind("SigIgn:", 0) == 0) status += line + "\n";
  }
  write_file(dir + "/argv", all_argv);
  write_file(dir + "/env", all_env);
  write_file(dir + "/stdin", in);
  write_file(dir + "/status", status);
  write_file(dir + "/fds", fds);
  write_file(dir + "/done", "");
  return 0;
}

int child_main(int argc, char** argv) {
  if (argc < 3) return 64;
  const std::string mode = argv[2];
  if (mode == "dump" && argc >= 4) return dump(argc, argv);
  if (mode == "gate" && argc == 4) {
    const int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_SH) != 0) return 65;
    close(fd);
    return 0;
  }
  if (mode == "exit" && argc == 4) return std::atoi(argv[3]);
  if (mode == "record" && argc == 5) {
    const char* token = std::getenv("XDG_ACTIVATION_TOKEN");
    write_file(argv[3], std::string(argv[4]) + "\n" + (token != nullptr ? token : ""));
    return 0;
  }
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--child") == 0) return child_main(argc, argv);
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
