// SPDX-License-Identifier: GPL-2.0
//
// Unit tests of the dibs provider (libdibs-rdmav34.so) without a kernel driver:
//  - match: which device names and uverbs ABI versions the provider claims (pure logic);
//  - load: the built library loads with RTLD_NOW against the system libibverbs (every symbol
//    resolves at IBVERBS_PRIVATE_34), registers itself, and libibverbs lists a fake dibs device.
//
// The listing runs libibverbs against a fake sysfs tree (SYSFS_PATH). libibverbs also requires
// /dev/infiniband/uverbsN to exist (it only stat()s it), so each listing runs in a forked child
// with its own mount namespace and a tmpfs holding empty files under /dev/infiniband (user
// namespace when not root). Every libibverbs call happens in a child: libibverbs reads its
// environment and loads its drivers once per process, and this process stays pristine. Where
// namespaces are unavailable, or the kernel has RDMA netlink (libibverbs then enumerates
// devices through netlink and ignores SYSFS_PATH's device list), the listing tests are skipped.
#define BOOST_TEST_MODULE provider
#include "match.hpp"
#include "test_files.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <dlfcn.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DIBS_PROVIDER_SO
#error "DIBS_PROVIDER_SO (path of libdibs-rdmav34.so) must be defined"
#endif
#ifndef DIBS_PROVIDER_RDMAV_DRIVERS
#error "DIBS_PROVIDER_RDMAV_DRIVERS (RDMAV_DRIVERS value for the build tree) must be defined"
#endif

namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;
using dibs::provider::classify_device;
using dibs::provider::device_match;

namespace dibs::provider {
std::ostream& operator<<(std::ostream& os, device_match m) {
    switch (m) {
    case device_match::foreign:
        return os << "foreign";
    case device_match::abi_mismatch:
        return os << "abi_mismatch";
    case device_match::match:
        return os << "match";
    }
    return os << "device_match(" << static_cast<int>(m) << ")";
}
} // namespace dibs::provider

namespace {

using dibs::test::contains;
using dibs::test::slurp;
using dibs::test::spit;

constexpr std::uint32_t our_abi = dibs::provider::abi_version;
constexpr std::string_view provider_so = DIBS_PROVIDER_SO;
constexpr std::string_view rdmav_drivers = DIBS_PROVIDER_RDMAV_DRIVERS;

std::string errno_text(std::string_view what) {
    const int err = errno;
    return std::string(what) + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
}

// ---- child processes --------------------------------------------------------------------------

/// open(2) with mode 0600 for a created file.
int open_file(const char* path, int flags) noexcept {
    return ::open(path, flags | O_CLOEXEC, 0600); // NOLINT(cppcoreguidelines-pro-type-vararg)
}

/// Writes text to fd (in a child: its stdout or stderr file); errors are ignored.
void emit_to(int fd, std::string_view text) noexcept {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n <= 0) {
            return;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Writes text to stdout.
void emit(std::string_view text) noexcept {
    emit_to(STDOUT_FILENO, text);
}

/// What a child printed and how it ended.
struct child_result {
    int status = -1; ///< exit status, or -1 if it did not exit normally
    std::string out;
    std::string err;
};

/// Runs body in a forked child whose stdout and stderr go to files in dir; body's return value
/// is the exit status. The child never returns into Boost.Test.
child_result run_child(const fs::path& dir, const std::function<int()>& body) {
    const fs::path out_path = dir / "child.out";
    const fs::path err_path = dir / "child.err";
    static_cast<void>(std::fflush(nullptr));
    const pid_t pid = ::fork();
    BOOST_REQUIRE_MESSAGE(pid >= 0, errno_text("fork"));
    if (pid == 0) {
        const int out = open_file(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
        const int err = open_file(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
        if (out < 0 || err < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
            ::dup2(err, STDERR_FILENO) < 0) {
            ::_exit(126);
        }
        int status = 125;
        try {
            status = body();
        } catch (...) {
            emit_to(STDERR_FILENO, "exception in child\n");
        }
        static_cast<void>(std::fflush(nullptr));
        ::_exit(status);
    }
    int wstatus = 0;
    pid_t waited = 0;
    do {
        waited = ::waitpid(pid, &wstatus, 0);
    } while (waited < 0 && errno == EINTR);
    BOOST_REQUIRE_MESSAGE(waited == pid, errno_text("waitpid"));
    child_result r;
    r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    return r;
}

using dibs::test::temp_dir;

bool write_proc_file(const char* path, std::string_view content) {
    const int fd = open_file(path, O_WRONLY);
    if (fd < 0) {
        return false;
    }
    const bool ok =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    return ok;
}

/// In a child: enters a private mount namespace (a user namespace too unless root) and mounts
/// a tmpfs with empty files /dev/infiniband/<name> for every name. Returns "" or why not.
std::string fake_dev_infiniband(const std::vector<std::string>& uverbs_names) {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    // Root (with CAP_SYS_ADMIN) needs only a mount namespace; anyone else, or root without the
    // capability (a container), a user namespace in which it is root.
    if (uid != 0 || ::unshare(CLONE_NEWNS) != 0) {
        if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            return errno_text("unshare(CLONE_NEWUSER | CLONE_NEWNS)");
        }
        if (!write_proc_file("/proc/self/setgroups", "deny") ||
            !write_proc_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
            !write_proc_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
            return errno_text("user namespace id maps");
        }
    }
    // Nothing done here may reach the parent's mounts.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        return errno_text("mount --make-rprivate /");
    }
    std::error_code ec;
    const bool have_dir = fs::is_directory("/dev/infiniband", ec);
    const char* target = have_dir ? "/dev/infiniband" : "/dev";
    if (::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) {
        return errno_text(std::string("mount tmpfs on ") + target);
    }
    if (!have_dir && ::mkdir("/dev/infiniband", 0755) != 0) {
        return errno_text("mkdir /dev/infiniband");
    }
    for (const auto& name : uverbs_names) {
        const std::string path = "/dev/infiniband/" + name;
        const int fd = open_file(path.c_str(), O_WRONLY | O_CREAT);
        if (fd < 0) {
            return errno_text("create " + path);
        }
        ::close(fd);
    }
    return {};
}

/// Why the listing tests cannot run here, or "" if they can.
std::string listing_unsupported_reason() {
    // With RDMA netlink (ib_core loaded) libibverbs enumerates devices through netlink.
    if (const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA); fd >= 0) {
        ::close(fd);
        return "the kernel has RDMA netlink: libibverbs ignores the fake sysfs device list";
    }
    temp_dir dir{"dibs-provider-test"};
    const child_result r = run_child(dir.path(), [] {
        const std::string why = fake_dev_infiniband({});
        emit(why);
        return why.empty() ? 0 : 1;
    });
    return r.status == 0 ? std::string{} : "cannot fake /dev/infiniband: " + r.out;
}

boost::test_tools::assertion_result can_fake_devices(utf::test_unit_id /*unused*/) {
    static const std::string reason = listing_unsupported_reason();
    boost::test_tools::assertion_result result(reason.empty());
    result.message() << reason;
    return result;
}

// ---- fake sysfs -------------------------------------------------------------------------------

/// One uverbs device of the fake tree.
struct fake_uverbs {
    std::string_view uverbs; ///< "uverbs0"
    std::string_view ibdev;  ///< the ib_device name
    std::uint32_t abi_version;
    int minor;
};

/// A sysfs root with class/infiniband_verbs and class/infiniband entries, as far as
/// libibverbs 44 reads them when it enumerates devices without netlink.
class fake_sysfs {
public:
    fake_sysfs(fs::path root, const std::vector<fake_uverbs>& devices) : root_(std::move(root)) {
        spit(root_ / "class/infiniband_verbs/abi_version", "6\n");
        for (const auto& d : devices) {
            const fs::path uv = root_ / "class/infiniband_verbs" / d.uverbs;
            spit(uv / "ibdev", std::string(d.ibdev) + "\n");
            spit(uv / "dev", "231:" + std::to_string(d.minor) + "\n");
            spit(uv / "abi_version", std::to_string(d.abi_version) + "\n");
            spit(root_ / "class/infiniband" / d.ibdev / "node_type", "1: CA\n");
        }
    }
    [[nodiscard]] const fs::path& root() const noexcept { return root_; }
    /// "Unplugs" a device: its uverbs directory disappears.
    void remove(const fake_uverbs& d) const {
        fs::remove_all(root_ / "class/infiniband_verbs" / d.uverbs);
    }

private:
    fs::path root_;
};

constexpr fake_uverbs dibs_dev{"uverbs0", "dibs_test0", our_abi, 192};
constexpr fake_uverbs foreign_dev{"uverbs1", "mlx5_0", our_abi, 193};
constexpr fake_uverbs wrong_abi_dev{"uverbs2", "dibs_test2", our_abi + 1, 194};
constexpr fake_uverbs second_dev{"uverbs3", "dibs_test3", our_abi, 195};

/// Prints one line per device libibverbs lists: "<ibdev> <uverbs> <transport>".
int print_device_list() {
    int n = 0;
    ibv_device** list = ::ibv_get_device_list(&n);
    if (list == nullptr) {
        emit(errno_text("ibv_get_device_list") + "\n");
        return 2;
    }
    std::string text;
    for (ibv_device* dev : std::span<ibv_device*>(list, static_cast<std::size_t>(n))) {
        text += std::string(::ibv_get_device_name(dev)) + " " + std::data(dev->dev_name) + " " +
                std::to_string(static_cast<int>(dev->transport_type)) + "\n";
    }
    ::ibv_free_device_list(list);
    emit(text);
    return 0;
}

/// The environment libibverbs reads, for a child.
void set_verbs_env(const fs::path& sysfs_root, const char* rdmav_drivers_value) {
    ::setenv("SYSFS_PATH", sysfs_root.c_str(), 1);
    ::unsetenv("IBV_DRIVERS");
    if (rdmav_drivers_value != nullptr) {
        ::setenv("RDMAV_DRIVERS", rdmav_drivers_value, 1);
    } else {
        ::unsetenv("RDMAV_DRIVERS");
    }
}

/// For failure messages.
std::string describe(const child_result& r) {
    return "child exit status " + std::to_string(r.status) + "\n--- stdout:\n" + r.out +
           "--- stderr:\n" + r.err;
}

/// The line print_device_list() prints for d.
std::string device_line(const fake_uverbs& d) {
    return std::string(d.ibdev) + " " + std::string(d.uverbs) + " " +
           std::to_string(IBV_TRANSPORT_IB) + "\n";
}

} // namespace

// ---- match ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(match)

static_assert(classify_device("dibs_lo0", our_abi) == device_match::match);
static_assert(classify_device("mlx5_0", our_abi) == device_match::foreign);
static_assert(classify_device("dibs_lo0", our_abi + 1) == device_match::abi_mismatch);

const std::array<std::string_view, 4> dibs_names{"dibs_lo0", "dibs_lo63", "dibs_test0", "dibs_"};

BOOST_DATA_TEST_CASE(dibs_device_with_our_abi_matches, bdata::make(dibs_names), name) {
    BOOST_TEST(classify_device(name, our_abi) == device_match::match);
}

const std::array<std::string_view, 9> foreign_names{
    "mlx5_0", "rxe0", "siw0", "", "dibs", "dibslo0", "DIBS_lo0", "xdibs_lo0", " dibs_lo0"};

BOOST_DATA_TEST_CASE(other_devices_are_foreign, bdata::make(foreign_names), name) {
    BOOST_TEST(classify_device(name, our_abi) == device_match::foreign);
    BOOST_TEST(classify_device(name, our_abi + 1) == device_match::foreign);
}

const std::array<std::uint32_t, 4> wrong_abis{our_abi - 1, our_abi + 1, our_abi + 100, 0xffffffff};

BOOST_DATA_TEST_CASE(dibs_device_with_other_abi_is_refused, bdata::make(wrong_abis), version) {
    BOOST_TEST(classify_device("dibs_lo0", version) == device_match::abi_mismatch);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- load -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(load)

BOOST_AUTO_TEST_CASE(rdmav_drivers_value_names_the_built_library) {
    // libibverbs appends "-rdmav34.so" to an absolute RDMAV_DRIVERS entry.
    const fs::path expected = std::string(rdmav_drivers) + "-rdmav34.so";
    BOOST_REQUIRE_MESSAGE(fs::exists(provider_so), provider_so << " is missing");
    BOOST_CHECK_MESSAGE(fs::equivalent(expected, provider_so),
                        expected << " is not " << provider_so);
    BOOST_TEST(rdmav_drivers.find_first_of(":;") == std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(dlopen_now_resolves_every_symbol) {
    temp_dir dir{"dibs-provider-test"};
    const child_result r = run_child(dir.path(), [] {
        // RTLD_NOW: every undefined symbol, with its version (IBVERBS_PRIVATE_34), must resolve.
        void* h = ::dlopen(std::string(provider_so).c_str(), RTLD_NOW | RTLD_LOCAL);
        if (h == nullptr) {
            emit(std::string(::dlerror()) + "\n");
            return 1;
        }
        // The provider exports nothing: the constructor registers it, no alias is needed.
        if (::dlsym(h, "verbs_provider_dibs") != nullptr) {
            emit("verbs_provider_dibs is exported\n");
            return 1;
        }
        return 0;
    });
    BOOST_CHECK_MESSAGE(r.status == 0, "dlopen(" << provider_so << "): " << describe(r));
}

BOOST_AUTO_TEST_CASE(rdmav_drivers_lists_dibs_devices_only, *utf::precondition(can_fake_devices)) {
    temp_dir dir{"dibs-provider-test"};
    const fake_sysfs sysfs(dir.path() / "sys", {dibs_dev, foreign_dev, wrong_abi_dev});
    const child_result r = run_child(dir.path(), [&] {
        if (const std::string why = fake_dev_infiniband({"uverbs0", "uverbs1", "uverbs2"});
            !why.empty()) {
            emit(why + "\n");
            return 3;
        }
        set_verbs_env(sysfs.root(), std::string(rdmav_drivers).c_str());
        return print_device_list();
    });
    BOOST_REQUIRE_MESSAGE(r.status == 0, describe(r));
    // dibs_test0 is listed; mlx5_0 is left to other providers (none claims it without a driver
    // id or modalias), dibs_test2 is refused for its ABI version.
    BOOST_CHECK_MESSAGE(r.out == device_line(dibs_dev), describe(r));
    // The refusal says why (libibverbs' ABI range check after match_device).
    BOOST_CHECK_MESSAGE(contains(r.err, "Driver dibs does not support the kernel ABI of " +
                                            std::to_string(our_abi + 1)),
                        describe(r));
    BOOST_CHECK_MESSAGE(!contains(r.err, "couldn't load driver"), describe(r));
}

BOOST_AUTO_TEST_CASE(dlopen_registers_the_driver, *utf::precondition(can_fake_devices)) {
    // Without RDMAV_DRIVERS: only the constructor run by dlopen() can have registered "dibs".
    temp_dir dir{"dibs-provider-test"};
    const fake_sysfs sysfs(dir.path() / "sys", {dibs_dev});
    const child_result r = run_child(dir.path(), [&] {
        if (const std::string why = fake_dev_infiniband({"uverbs0"}); !why.empty()) {
            emit(why + "\n");
            return 3;
        }
        set_verbs_env(sysfs.root(), nullptr);
        if (::dlopen(std::string(provider_so).c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
            emit(std::string(::dlerror()) + "\n");
            return 1;
        }
        return print_device_list();
    });
    BOOST_REQUIRE_MESSAGE(r.status == 0, describe(r));
    BOOST_CHECK_MESSAGE(r.out == device_line(dibs_dev), describe(r));
}

BOOST_AUTO_TEST_CASE(unplugged_device_is_released, *utf::precondition(can_fake_devices)) {
    // A device gone from sysfs is dropped by the next ibv_get_device_list(), which releases it
    // through uninit_device(); the other device stays.
    temp_dir dir{"dibs-provider-test"};
    const fake_sysfs sysfs(dir.path() / "sys", {dibs_dev, second_dev});
    const child_result r = run_child(dir.path(), [&] {
        if (const std::string why = fake_dev_infiniband({"uverbs0", "uverbs3"}); !why.empty()) {
            emit(why + "\n");
            return 3;
        }
        set_verbs_env(sysfs.root(), std::string(rdmav_drivers).c_str());
        if (const int status = print_device_list(); status != 0) {
            return status;
        }
        emit("--\n");
        sysfs.remove(dibs_dev);
        return print_device_list();
    });
    BOOST_REQUIRE_MESSAGE(r.status == 0, describe(r));
    // libibverbs lists devices in no particular order.
    const std::string after = "--\n" + device_line(second_dev);
    BOOST_CHECK_MESSAGE(r.out == device_line(dibs_dev) + device_line(second_dev) + after ||
                            r.out == device_line(second_dev) + device_line(dibs_dev) + after,
                        describe(r));
}

BOOST_AUTO_TEST_SUITE_END()
