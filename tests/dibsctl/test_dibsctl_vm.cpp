// SPDX-License-Identifier: GPL-2.0
//
// dibsctl and the dibs_loopback control files, tested inside the VM against the real modules.
//
// Default run (vm.dibsctl): dibs.ko and dibs_loopback.ko are loaded (so dibs_lo0 exists); the
// program runs as root. Every test removes the loopback devices it created.
// --run_test=not_loaded (vm.dibsctl.not_loaded): no dibs module is loaded.
//
// The dibsctl binary is DIBSCTL_PATH (set by tests/dibsctl/CMakeLists.txt), or $DIBSCTL if set.
#define BOOST_TEST_MODULE dibsctl_vm
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <grp.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DIBSCTL_PATH
#define DIBSCTL_PATH "dibsctl"
#endif

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;

namespace {

const fs::path class_dir = "/sys/class/dibs";
const fs::path loopback_dir = "/sys/kernel/dibs_loopback";
const fs::path new_device = loopback_dir / "new_device";
const fs::path del_device = loopback_dir / "del_device";
constexpr uid_t nobody = 65534;
constexpr std::array attributes{"gid", "fabric_id", "dmbs", "max_dmbs"};

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

std::string dibsctl_path() {
    const char* env = std::getenv("DIBSCTL"); // NOLINT(*-mt-unsafe)
    return env != nullptr && *env != '\0' ? env : DIBSCTL_PATH;
}

/// Closes a descriptor on scope exit.
struct fd_guard {
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    fd_guard(fd_guard&&) = delete;
    fd_guard& operator=(fd_guard&&) = delete;
    ~fd_guard() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    int fd;
};

/// Drops to uid/gid nobody with no supplementary groups (in a child process).
bool become_nobody() {
    return ::setgroups(0, nullptr) == 0 && ::setresgid(nobody, nobody, nobody) == 0 &&
           ::setresuid(nobody, nobody, nobody) == 0;
}

std::string read_fd(int fd) {
    std::string text;
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    off_t off = 0;
    while ((n = ::pread(fd, buf.data(), buf.size(), off)) > 0) {
        text.append(buf.data(), static_cast<std::size_t>(n));
        off += n;
    }
    return text;
}

struct proc_result {
    int status = -1; ///< exit status, or 128 + signal
    std::string out;
    std::string err;
};

std::ostream& operator<<(std::ostream& os, const proc_result& r) {
    return os << "exit " << r.status << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
}

/// Runs dibsctl with args, as root or (as_nobody) as uid 65534, without $DIBS_SYSFS_ROOT.
proc_result dibsctl(std::initializer_list<std::string_view> args, bool as_nobody = false) {
    const std::string path = dibsctl_path();
    // Opened as root: nobody may not be able to traverse the build tree, but can run the file.
    const fd_guard exe(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT(*-vararg)
    BOOST_REQUIRE_MESSAGE(exe.fd >= 0, "cannot open " << path << ": " << std::strerror(errno));

    std::vector<std::string> argv_store{"dibsctl"};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_store.size() + 1);
    for (auto& a : argv_store) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!std::string_view{*e}.starts_with("DIBS_SYSFS_ROOT=")) {
            envp.push_back(*e);
        }
    }
    envp.push_back(nullptr);

    const fd_guard out(::memfd_create("dibsctl-stdout", MFD_CLOEXEC));
    const fd_guard err(::memfd_create("dibsctl-stderr", MFD_CLOEXEC));
    BOOST_REQUIRE(out.fd >= 0 && err.fd >= 0);

    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::dup2(out.fd, STDOUT_FILENO) < 0 || ::dup2(err.fd, STDERR_FILENO) < 0) {
            ::_exit(126);
        }
        if (as_nobody && !become_nobody()) {
            ::_exit(125);
        }
        ::fexecve(exe.fd, argv.data(), envp.data());
        ::_exit(127);
    }
    int wstatus = 0;
    BOOST_REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    proc_result r;
    r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    r.out = read_fd(out.fd);
    r.err = read_fd(err.fd);
    BOOST_TEST_MESSAGE("dibsctl" <<
                       [&] {
                           std::string s;
                           for (const auto a : args) {
                               s.append(" ").append(a);
                           }
                           return s;
                       }() << (as_nobody ? " (as nobody)" : "")
                                 << ": " << r);
    BOOST_REQUIRE_MESSAGE(r.status < 125, "could not run " << path << ": " << r);
    return r;
}

/// Runs fn in a child process as nobody; returns fn's result (125: could not drop privileges).
int run_as_nobody(const std::function<int()>& fn) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::_exit(become_nobody() ? fn() : 125);
    }
    int wstatus = 0;
    BOOST_REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(wstatus));
    return WEXITSTATUS(wstatus);
}

/// The errno of opening path for writing (0: it opened).
int open_for_write_errno(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC); // NOLINT(*-vararg)
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

/// Writes value to a sysfs file in one write(); returns 0 or the errno.
int sysfs_write(const fs::path& path, std::string_view value) {
    const fd_guard fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC)); // NOLINT(*-vararg)
    if (fd.fd < 0) {
        return errno;
    }
    const ssize_t n = ::write(fd.fd, value.data(), value.size());
    if (n < 0) {
        return errno;
    }
    return static_cast<std::size_t>(n) == value.size() ? 0 : EIO;
}

std::string attr(std::string_view device, std::string_view name) {
    std::ifstream in(class_dir / device / name);
    BOOST_REQUIRE_MESSAGE(in, "cannot read " << (class_dir / device / name));
    std::string value;
    std::getline(in, value);
    return value;
}

std::set<std::string> devices() {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(class_dir)) {
        names.insert(e.path().filename().string());
    }
    return names;
}

bool exists(std::string_view device) {
    return fs::exists(class_dir / device);
}

/// The lowest N with no dibs_loN.
unsigned lowest_free_index() {
    unsigned n = 0;
    while (exists("dibs_lo" + std::to_string(n))) {
        ++n;
    }
    return n;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        const char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> result;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        result.push_back(line);
    }
    return result;
}

/// Requires both modules and dibs_lo0; afterwards removes every device the test created.
struct loaded_fixture {
    loaded_fixture() {
        BOOST_REQUIRE_MESSAGE(fs::is_directory(class_dir),
                              class_dir << " missing: dibs not loaded");
        BOOST_REQUIRE_MESSAGE(fs::is_directory(loopback_dir),
                              loopback_dir << " missing: dibs_loopback not loaded");
        BOOST_REQUIRE_MESSAGE(exists("dibs_lo0"), "loading dibs_loopback did not create dibs_lo0");
        BOOST_REQUIRE_MESSAGE(::geteuid() == 0, "the VM tests run as root");
        before = devices();
    }
    loaded_fixture(const loaded_fixture&) = delete;
    loaded_fixture& operator=(const loaded_fixture&) = delete;
    loaded_fixture(loaded_fixture&&) = delete;
    loaded_fixture& operator=(loaded_fixture&&) = delete;
    ~loaded_fixture() {
        for (const auto& name : added()) {
            const int rc = sysfs_write(del_device, name + "\n");
            BOOST_CHECK_MESSAGE(rc == 0,
                                "cleanup: del_device " << name << ": " << std::strerror(rc));
        }
    }

    /// Devices that appeared since the test started.
    [[nodiscard]] std::set<std::string> added() const {
        std::set<std::string> result;
        const auto now = devices();
        std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                            std::inserter(result, result.end()));
        return result;
    }

    std::set<std::string> before;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(list, loaded_fixture)

BOOST_AUTO_TEST_CASE(shows_dibs_lo0_with_its_sysfs_attributes) {
    const auto gid = attr("dibs_lo0", "gid");
    BOOST_TEST(is_uuid(gid), "gid " << gid);
    const auto r = dibsctl({"list"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.err.empty());
    const auto l = lines(r.out);
    BOOST_REQUIRE(l.size() >= 2U);
    BOOST_TEST(l[0].starts_with("DEVICE "));
    const auto row = std::find_if(l.begin(), l.end(),
                                  [](const std::string& s) { return s.starts_with("dibs_lo0 "); });
    BOOST_REQUIRE(row != l.end());
    BOOST_TEST(contains(*row, "  " + gid + "  " + attr("dibs_lo0", "fabric_id") + "  "));
    BOOST_TEST(row->ends_with(" " + attr("dibs_lo0", "max_dmbs")));
    BOOST_TEST(dibsctl({}).out == r.out); // list is the default
}

BOOST_AUTO_TEST_CASE(json) {
    const auto r = dibsctl({"--json", "list"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.starts_with("[\n"));
    BOOST_TEST(contains(r.out, "  {\n    \"device\": \"dibs_lo0\",\n    \"gid\": \"" +
                                   attr("dibs_lo0", "gid") + "\",\n"));
    const auto devices = nlohmann::json::parse(r.out);
    const auto lo0 = std::find_if(devices.begin(), devices.end(),
                                  [](const auto& d) { return d.at("device") == "dibs_lo0"; });
    BOOST_REQUIRE(lo0 != devices.end());
    BOOST_TEST(lo0->at("gid") == attr("dibs_lo0", "gid"));
    BOOST_TEST(lo0->at("max_dmbs") == std::stoul(attr("dibs_lo0", "max_dmbs")));
    BOOST_TEST(lo0->at("loopback") == true);
}

BOOST_AUTO_TEST_CASE(show_matches_sysfs) {
    const auto r = dibsctl({"show", "dibs_lo0"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "device     dibs_lo0\n"));
    BOOST_TEST(contains(r.out, "loopback   yes\n"));
    for (const auto* a : attributes) {
        std::string key = a;
        key.resize(11, ' ');
        BOOST_TEST(contains(r.out, key + attr("dibs_lo0", a) + "\n"), "attribute " << a);
    }
}

BOOST_AUTO_TEST_CASE(natural_order) {
    BOOST_REQUIRE(!exists("dibs_lo2") && !exists("dibs_lo10"));
    BOOST_REQUIRE(dibsctl({"add-loopback", "--id", "10"}).status == 0);
    BOOST_REQUIRE(dibsctl({"add-loopback", "--id", "2"}).status == 0);
    const auto out = dibsctl({"list"}).out;
    const auto p0 = out.find("\ndibs_lo0 ");
    const auto p2 = out.find("\ndibs_lo2 ");
    const auto p10 = out.find("\ndibs_lo10 ");
    BOOST_REQUIRE(p0 != std::string::npos && p2 != std::string::npos && p10 != std::string::npos);
    BOOST_TEST((p0 < p2 && p2 < p10));
}

BOOST_AUTO_TEST_CASE(unknown_device) {
    const auto r = dibsctl({"show", "nope"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'nope'\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(add_loopback, loaded_fixture)

BOOST_AUTO_TEST_CASE(creates_the_lowest_free_index) {
    const auto expected = "dibs_lo" + std::to_string(lowest_free_index());
    BOOST_WARN_MESSAGE(expected == "dibs_lo1", "devices left over from before: " << expected);
    const auto r = dibsctl({"add-loopback"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.err.empty());
    BOOST_TEST(r.out == expected + "\n");
    BOOST_REQUIRE(exists(expected));
    BOOST_TEST(added() == std::set<std::string>{expected});
    const auto gid = attr(expected, "gid");
    BOOST_TEST(is_uuid(gid), "gid " << gid);
    BOOST_TEST(gid != attr("dibs_lo0", "gid"));
    BOOST_TEST(attr(expected, "fabric_id") == "0xffff");
    BOOST_TEST(attr(expected, "dmbs") == "0");
}

BOOST_AUTO_TEST_CASE(fabric_and_count) {
    const auto r = dibsctl({"add-loopback", "--fabric", "0x10", "--count", "2"});
    BOOST_TEST(r.status == 0);
    const auto names = lines(r.out);
    BOOST_REQUIRE(names.size() == 2U);
    BOOST_TEST(added() == std::set<std::string>(names.begin(), names.end()));
    std::set<std::string> gids{attr("dibs_lo0", "gid")};
    for (const auto& name : names) {
        BOOST_TEST(attr(name, "fabric_id") == "0x0010");
        gids.insert(attr(name, "gid"));
    }
    BOOST_TEST(gids.size() == 3U); // all different
}

BOOST_AUTO_TEST_CASE(decimal_fabric) {
    const auto r = dibsctl({"add-loopback", "--fabric", "32"});
    BOOST_TEST(r.status == 0);
    const auto names = lines(r.out);
    BOOST_REQUIRE(names.size() == 1U);
    BOOST_TEST(attr(names[0], "fabric_id") == "0x0020");
}

BOOST_AUTO_TEST_CASE(explicit_id) {
    BOOST_REQUIRE(!exists("dibs_lo7"));
    auto r = dibsctl({"add-loopback", "--id", "7"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out == "dibs_lo7\n");
    BOOST_TEST(exists("dibs_lo7"));
    r = dibsctl({"add-loopback", "--id", "7"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "dibsctl: add-loopback: dibs_lo7 already exists\n");
    BOOST_TEST(added() == std::set<std::string>{"dibs_lo7"});
}

BOOST_AUTO_TEST_CASE(index_beyond_the_driver_limit) {
    // Valid for dibsctl (0..2147483647), too big for the driver: the kernel says EINVAL.
    const auto r = dibsctl({"add-loopback", "--id", "999999"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device.string() +
                            ": Invalid argument (errno 22); the kernel rejected '999999' (is the "
                            "index beyond the driver's limit?)\n");
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(gids_are_unique) {
    BOOST_REQUIRE(dibsctl({"add-loopback", "--count", "4"}).status == 0);
    std::set<std::string> gids;
    const auto all = devices();
    for (const auto& d : all) {
        gids.insert(attr(d, "gid"));
    }
    BOOST_TEST(gids.size() == all.size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(del, loaded_fixture)

BOOST_AUTO_TEST_CASE(removes_devices) {
    const auto r = dibsctl({"add-loopback", "--count", "2"});
    BOOST_REQUIRE(r.status == 0);
    const auto names = lines(r.out);
    BOOST_REQUIRE(names.size() == 2U);
    const auto d = dibsctl({"del", names[0], names[1]});
    BOOST_TEST(d.status == 0);
    BOOST_TEST(d.out.empty());
    BOOST_TEST(d.err.empty());
    BOOST_TEST(!exists(names[0]));
    BOOST_TEST(!exists(names[1]));
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(unknown_device_fails) {
    auto r = dibsctl({"del", "dibs_lo999"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'dibs_lo999'\n");
    r = dibsctl({"del", "foo"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'foo'\n");
    BOOST_TEST(exists("dibs_lo0"));
}

BOOST_AUTO_TEST_CASE(continues_after_an_unknown_device) {
    const auto r = dibsctl({"add-loopback"});
    BOOST_REQUIRE(r.status == 0);
    const auto name = lines(r.out).at(0);
    const auto d = dibsctl({"del", "nope", name});
    BOOST_TEST(d.status == 1);
    BOOST_TEST(d.err == "dibsctl: no such dibs device 'nope'\n");
    BOOST_TEST(!exists(name));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(usage, loaded_fixture)

BOOST_DATA_TEST_CASE(bad_values_exit_2_and_create_nothing,
                     bdata::make({"--id=abc", "--id=-1", "--id=99999999999", "--id=2147483648",
                                  "--id=1x", "--id=", "--fabric=0x10000", "--fabric=65536",
                                  "--fabric=abc", "--fabric=-1", "--fabric=0x", "--count=0",
                                  "--count=1025", "--bogus"}),
                     option) {
    const auto r = dibsctl({"add-loopback", option});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err.starts_with("dibsctl: add-loopback: "));
    BOOST_TEST(contains(r.err, "Try 'dibsctl help add-loopback'"));
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(unknown_command) {
    const auto r = dibsctl({"frobnicate"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err == "dibsctl: unknown command 'frobnicate'\n"
                        "Try 'dibsctl --help' for more information.\n");
}

BOOST_AUTO_TEST_CASE(help_and_version) {
    auto r = dibsctl({"--help"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "SYNOPSIS"));
    r = dibsctl({"--version"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.starts_with("dibsctl (dibs-rdma) "));
}

BOOST_AUTO_TEST_SUITE_END()

// The kernel interface itself, without dibsctl.
BOOST_FIXTURE_TEST_SUITE(kernel_interface, loaded_fixture)

BOOST_AUTO_TEST_CASE(control_files_are_root_only) {
    for (const auto& f : {new_device, del_device}) {
        struct stat st {};
        BOOST_REQUIRE(::stat(f.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 07777U) == 0200U, f << " mode " << std::oct << st.st_mode);
        BOOST_TEST(st.st_uid == 0U);
    }
}

BOOST_DATA_TEST_CASE(new_device_rejects_garbage,
                     bdata::make({"abc\n", "99999999999\n", "1 0x10000\n", "-1\n", "1 abc\n"}),
                     request) {
    const int rc = sysfs_write(new_device, request);
    BOOST_TEST(rc == EINVAL, "new_device '" << request << "': " << std::strerror(rc));
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(new_device_duplicate_is_eexist) {
    const int rc = sysfs_write(new_device, "0\n");
    BOOST_TEST(rc == EEXIST, std::strerror(rc));
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(new_device_with_fabric_and_del_device) {
    const auto index = std::to_string(lowest_free_index() + 3);
    const auto name = "dibs_lo" + index;
    BOOST_REQUIRE(sysfs_write(new_device, index + " 0x20\n") == 0);
    BOOST_REQUIRE(exists(name));
    BOOST_TEST(attr(name, "fabric_id") == "0x0020");
    BOOST_TEST(sysfs_write(del_device, name + "\n") == 0);
    BOOST_TEST(!exists(name));
}

BOOST_AUTO_TEST_CASE(new_device_decimal_fabric_and_default) {
    const auto first = lowest_free_index();
    BOOST_REQUIRE(sysfs_write(new_device, std::to_string(first) + " 17\n") == 0);
    BOOST_TEST(attr("dibs_lo" + std::to_string(first), "fabric_id") == "0x0011");
    const auto second = lowest_free_index();
    BOOST_REQUIRE(sysfs_write(new_device, std::to_string(second) + "\n") == 0);
    BOOST_TEST(attr("dibs_lo" + std::to_string(second), "fabric_id") == "0xffff");
}

BOOST_AUTO_TEST_CASE(empty_write_creates_the_lowest_free_index) {
    const auto expected = "dibs_lo" + std::to_string(lowest_free_index());
    const int rc = sysfs_write(new_device, "\n");
    BOOST_TEST(rc == 0, std::strerror(rc));
    BOOST_TEST(added() == std::set<std::string>{expected});
}

BOOST_DATA_TEST_CASE(del_device_unknown_is_enodev, bdata::make({"nope\n", "dibs_lo999\n"}),
                     request) {
    const int rc = sysfs_write(del_device, request);
    BOOST_TEST(rc == ENODEV, "del_device '" << request << "': " << std::strerror(rc));
    BOOST_TEST(exists("dibs_lo0"));
}

BOOST_AUTO_TEST_CASE(attributes_are_read_only_even_for_root) {
    for (const auto* a : attributes) {
        const auto path = class_dir / "dibs_lo0" / a;
        struct stat st {};
        BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0222U) == 0U, path << " mode " << std::oct << st.st_mode);
        const int rc = open_for_write_errno(path);
        BOOST_TEST(rc == EACCES, path << ": " << std::strerror(rc));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(non_root, loaded_fixture)

BOOST_AUTO_TEST_CASE(nobody_can_list) {
    const auto r = dibsctl({"list"}, true);
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "\ndibs_lo0 "));
    BOOST_TEST(contains(r.out, attr("dibs_lo0", "gid")));
}

BOOST_AUTO_TEST_CASE(nobody_cannot_add) {
    const auto r = dibsctl({"add-loopback"}, true);
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err ==
               "dibsctl: add-loopback: cannot write " + new_device.string() +
                   ": Permission denied (errno 13); are you root? (effective uid 65534)\n");
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(nobody_cannot_del) {
    const auto r = dibsctl({"del", "dibs_lo0"}, true);
    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "dibsctl: del: cannot write " + del_device.string() +
                                   ": Permission denied (errno 13); are you root?"));
    BOOST_TEST(exists("dibs_lo0"));
}

BOOST_AUTO_TEST_CASE(nobody_cannot_write_control_files) {
    for (const auto& f : {new_device, del_device}) {
        const int rc = run_as_nobody([&f] { return open_for_write_errno(f); });
        BOOST_TEST(rc == EACCES, f << ": " << std::strerror(rc));
    }
    BOOST_TEST(added().empty());
}

BOOST_AUTO_TEST_CASE(nobody_cannot_write_attributes) {
    for (const auto* a : attributes) {
        const auto path = class_dir / "dibs_lo0" / a;
        const int rc = run_as_nobody([&path] { return open_for_write_errno(path); });
        BOOST_TEST(rc == EACCES, path << ": " << std::strerror(rc));
    }
}

BOOST_AUTO_TEST_SUITE_END()

// vm.dibsctl.not_loaded: run explicitly with --run_test=not_loaded, with no dibs module loaded.
BOOST_AUTO_TEST_SUITE(not_loaded, *boost::unit_test::disabled())

BOOST_AUTO_TEST_CASE(commands_say_the_module_is_not_loaded) {
    BOOST_REQUIRE_MESSAGE(!fs::exists(class_dir), class_dir << " exists: dibs is loaded");
    const std::string expected =
        "dibsctl: the dibs module is not loaded (/sys/class/dibs missing; try: modprobe dibs)\n";
    for (const auto& args : {std::initializer_list<std::string_view>{"list"},
                             std::initializer_list<std::string_view>{},
                             std::initializer_list<std::string_view>{"--json", "list"},
                             std::initializer_list<std::string_view>{"show", "dibs_lo0"},
                             std::initializer_list<std::string_view>{"add-loopback"},
                             std::initializer_list<std::string_view>{"del", "dibs_lo0"}}) {
        const auto r = dibsctl(args);
        BOOST_TEST(r.status == 1);
        BOOST_TEST(r.out.empty());
        BOOST_TEST(r.err == expected);
    }
}

BOOST_AUTO_TEST_CASE(help_works_without_modules) {
    const auto r = dibsctl({"--help"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "modprobe dibs"));
}

BOOST_AUTO_TEST_SUITE_END()
