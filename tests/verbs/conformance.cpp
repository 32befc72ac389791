// SPDX-License-Identifier: GPL-2.0
//
// Shared pieces of the verbs conformance suite (see conformance.hpp).
#include "conformance.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <linux/perf_event.h>
#include <rdma/dibs-rdma-wire.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dibs::conformance {

boost::test_tools::assertion_result
devices_present::operator()(utf::test_unit_id /*unused*/) const {
    std::string missing;
    try {
        const device_list list = device_list::get();
        for (const std::string_view dev : names) {
            if (list.find(dev) == nullptr) {
                missing += missing.empty() ? "" : ", ";
                missing += dev;
            }
        }
    } catch (const verbs_error& e) {
        missing = e.what();
    }
    boost::test_tools::assertion_result result(missing.empty());
    result.message() << "no ibverbs device " << missing
                     << " (run inside the VM with the provider: tests/verbs/run-conformance.sh)";
    return result;
}

std::string read_sysfs(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

int write_sysfs(const std::string& path, std::string_view value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC); // NOLINT(*-vararg)
    if (fd < 0) {
        return errno;
    }
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int err = n < 0 ? errno : (static_cast<std::size_t>(n) == value.size() ? 0 : EIO);
    ::close(fd);
    return err;
}

unsigned dmbs(std::string_view dev) {
    return static_cast<unsigned>(
        std::stoul(read_sysfs("/sys/class/dibs/" + std::string{dev} + "/dmbs")));
}

ibv_gid sysfs_gid(std::string_view dev) {
    const std::string uuid = read_sysfs("/sys/class/dibs/" + std::string{dev} + "/gid");
    std::string hex;
    std::copy_if(uuid.begin(), uuid.end(), std::back_inserter(hex),
                 [](char c) { return c != '-'; });
    if (hex.size() != 2 * sizeof(ibv_gid::raw)) {
        throw std::runtime_error("bad gid in sysfs: " + uuid);
    }
    std::array<std::uint8_t, sizeof(ibv_gid::raw)> raw{};
    for (std::size_t i = 0; i < raw.size(); ++i) {
        raw.at(i) = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    }
    ibv_gid gid{};
    std::memcpy(&gid, raw.data(), raw.size());
    return gid;
}

unsigned wait_dmbs(std::string_view dev, unsigned want, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    unsigned now = dmbs(dev);
    while (now != want && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        now = dmbs(dev);
    }
    return now;
}

std::uint64_t seed() {
    static const std::uint64_t value = [] {
        std::uint64_t s = 0x0d1b5c0ffee5eedULL;
        if (const char* env = std::getenv("VERBS_CONFORMANCE_SEED")) { // NOLINT(*-mt-unsafe)
            s = std::stoull(env, nullptr, 0);
        }
        std::cout << "verbs.conformance: random seed 0x" << std::hex << s << std::dec
                  << " (set VERBS_CONFORMANCE_SEED to change it)" << std::endl;
        return s;
    }();
    return value;
}

std::mt19937_64& rng() {
    static std::mt19937_64 engine{seed()};
    return engine;
}

void fill_random(std::span<std::byte> bytes) {
    std::uniform_int_distribution<unsigned> dist(0, 255);
    for (std::byte& b : bytes) {
        b = static_cast<std::byte>(dist(rng()));
    }
}

std::vector<std::byte> random_bytes(std::size_t n) {
    std::vector<std::byte> v(n);
    fill_random(v);
    return v;
}

buffer::buffer(ibv_pd& pd, std::size_t size, access flags)
    : data(random_bytes(size))
    , mr(reg_mr(pd, data, flags)) {}

int post(ibv_qp& qp, ibv_send_wr wr, std::uint64_t wr_id) {
    wr.wr_id = wr_id;
    wr.next = nullptr;
    ibv_send_wr* bad = nullptr;
    return ibv_post_send(&qp, &wr, &bad);
}

int post_recv(ibv_qp& qp, std::span<ibv_sge> sges, std::uint64_t wr_id) {
    ibv_recv_wr wr = recv_wr(sges, wr_id);
    ibv_recv_wr* bad = nullptr;
    return ibv_post_recv(&qp, &wr, &bad);
}

std::string_view name(ibv_wc_status status) noexcept {
    return ibv_wc_status_str(status);
}

std::string_view name(ibv_qp_state state) noexcept {
    switch (state) {
    case IBV_QPS_RESET:
        return "RESET";
    case IBV_QPS_INIT:
        return "INIT";
    case IBV_QPS_RTR:
        return "RTR";
    case IBV_QPS_RTS:
        return "RTS";
    case IBV_QPS_SQD:
        return "SQD";
    case IBV_QPS_SQE:
        return "SQE";
    case IBV_QPS_ERR:
        return "ERR";
    default:
        return "?";
    }
}

ibv_wc completion_now(ibv_cq& cq) {
    const std::optional<ibv_wc> wc = poll_now(cq);
    BOOST_REQUIRE_MESSAGE(wc.has_value(), "no completion in the CQ when post_send returned");
    return *wc;
}

ibv_wc completion_within(ibv_cq& cq, std::chrono::milliseconds timeout) {
    const std::optional<ibv_wc> wc = poll_wait(cq, timeout);
    BOOST_REQUIRE_MESSAGE(wc.has_value(), "no completion within " << timeout.count() << " ms");
    return *wc;
}

std::vector<ibv_wc> drain(ibv_cq& cq) {
    std::vector<ibv_wc> all;
    while (const std::optional<ibv_wc> wc = poll_now(cq)) {
        all.push_back(*wc);
    }
    return all;
}

void check_no_completion(ibv_cq& cq, std::chrono::milliseconds time) {
    const std::optional<ibv_wc> wc = poll_wait(cq, time);
    BOOST_CHECK_MESSAGE(!wc.has_value(), "unexpected completion: status "
                                             << (wc ? name(wc->status) : "") << ", wr_id "
                                             << (wc ? wc->wr_id : 0));
}

bool wait_qp_state(ibv_qp& qp, ibv_qp_state state, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (query_qp_state(qp) != state) {
        if (std::chrono::steady_clock::now() > until) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

int qp_method(int cmd_fd, std::uint32_t method, std::span<const ib_uverbs_attr> attrs) {
    ib_uverbs_ioctl_hdr hdr{};
    hdr.length = static_cast<std::uint16_t>(sizeof(hdr) + attrs.size_bytes());
    hdr.object_id = UVERBS_OBJECT_QP;
    hdr.method_id = static_cast<std::uint16_t>(method);
    hdr.num_attrs = static_cast<std::uint16_t>(attrs.size());
    // the header's attrs[] is a flexible array: the command is one buffer
    std::vector<std::uint64_t> cmd((sizeof(hdr) + attrs.size_bytes()) / sizeof(std::uint64_t));
    std::memcpy(cmd.data(), &hdr, sizeof(hdr));
    std::memcpy(std::as_writable_bytes(std::span{cmd}).subspan(sizeof(hdr)).data(), attrs.data(),
                attrs.size_bytes());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2)
    return ::ioctl(cmd_fd, RDMA_VERBS_IOCTL, cmd.data()) == 0 ? 0 : errno;
}

bool bypass() {
    const char* v = std::getenv("DIBS_RDMA_BYPASS"); // NOLINT(concurrency-mt-unsafe)
    return v == nullptr || std::string_view{v} != "0";
}

int open_ring_method(int cmd_fd, std::uint32_t method, std::uint32_t qp_handle,
                     dibs_rdma_window_resp& resp, std::size_t resp_len) {
    std::array<ib_uverbs_attr, 2> attrs{};
    attrs[0].attr_id = DIBS_RDMA_ATTR_OPEN_RING_QP;
    attrs[0].data = qp_handle;
    attrs[1].attr_id = DIBS_RDMA_ATTR_OPEN_RING_RESP;
    attrs[1].len = static_cast<std::uint16_t>(resp_len);
    attrs[1].data = addr_of(&resp);
    return qp_method(cmd_fd, method, attrs);
}

void check_ring_window_mmap(int fd, const dibs_rdma_window_resp& resp, std::string_view what) {
    constexpr std::size_t page = 4096;
    constexpr int rw = PROT_READ | PROT_WRITE;
    BOOST_TEST_CONTEXT(what) {
        BOOST_TEST(try_mmap(fd, resp.mmap_offset, resp.length, rw) == 0);
        BOOST_TEST(try_mmap(fd, resp.mmap_offset, resp.length + page, rw) == EINVAL,
                   "past the end");
        BOOST_TEST(try_mmap(fd, resp.mmap_offset + resp.length, page, PROT_READ) == EINVAL,
                   "behind the window's pages");
        BOOST_TEST(try_mmap(fd, resp.mmap_offset, page, rw, MAP_PRIVATE) == EINVAL, "MAP_PRIVATE");
        BOOST_TEST(try_mmap(fd, resp.state_offset, page, PROT_READ) == 0);
        BOOST_TEST(try_mmap(fd, resp.state_offset, page, rw) == EACCES, "writable state page");
        const context_ptr other = open_device(dut());
        BOOST_TEST(try_mmap(other->cmd_fd, resp.mmap_offset, page, PROT_READ) == EACCES,
                   "another context's window");
    }
}

std::vector<uverbs_mapping> uverbs_mappings() {
    std::ifstream maps{"/proc/self/maps"};
    std::vector<uverbs_mapping> v;
    for (std::string line; std::getline(maps, line);) {
        if (line.find("/dev/infiniband/uverbs") == std::string::npos) {
            continue;
        }
        // "start-end perms offset dev inode path"
        const auto dash = line.find('-');
        const auto first = line.find(' ');
        const auto second = line.find(' ', first + 1);
        v.push_back({std::stoull(line.substr(0, dash), nullptr, 16),
                     std::stoull(line.substr(dash + 1, first - dash - 1), nullptr, 16),
                     std::stoull(line.substr(second + 1), nullptr, 16)});
    }
    return v;
}

void check_queue_ring_mmap(ibv_context& ctx, const uverbs_mapping& map, qp_ptr& qp) {
    constexpr std::size_t page = 4096;
    constexpr int rw = PROT_READ | PROT_WRITE;
    const int fd = ctx.cmd_fd;
    const std::size_t len = map.end - map.start;
    BOOST_TEST(try_mmap(fd, map.offset, len, rw) == 0);
    BOOST_TEST(try_mmap(fd, map.offset, len + page, rw) == EINVAL, "longer than the ring");
    BOOST_TEST(try_mmap(fd, map.offset, page, rw) == EINVAL, "shorter than the ring");
    const context_ptr other = open_device(dut());
    BOOST_TEST(try_mmap(other->cmd_fd, map.offset, len, rw) == EINVAL, "another context's ring");

    // a mapping of our own that outlives the QP
    void* p = ::mmap(nullptr, len, rw, MAP_SHARED, fd, static_cast<off_t>(map.offset));
    BOOST_REQUIRE(p != MAP_FAILED);
    qp.reset();
    BOOST_TEST(try_mmap(fd, map.offset, len, rw) == EINVAL, "the ring of a destroyed QP");
    std::memset(p, 0x5a, len); // memory of nobody but this mapping now
    BOOST_TEST(::munmap(p, len) == 0);
}

syscall_counter::syscall_counter() {
    std::ifstream id_file{"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"};
    std::uint64_t id = 0;
    BOOST_REQUIRE_MESSAGE(id_file >> id, "no raw_syscalls:sys_enter tracepoint in tracefs");
    perf_event_attr attr{};
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof(attr);
    attr.config = id;
    attr.exclude_kernel = 0;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): perf_event_open(2) has no wrapper
    fd_ = static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    BOOST_REQUIRE_MESSAGE(fd_ >= 0, "perf_event_open: " << std::strerror(errno));
}

syscall_counter::~syscall_counter() {
    ::close(fd_);
}

std::uint64_t syscall_counter::count() const {
    std::uint64_t n = 0;
    BOOST_REQUIRE(::read(fd_, &n, sizeof(n)) == static_cast<ssize_t>(sizeof(n)));
    return n;
}

qp_rings new_qp_rings(const std::vector<uverbs_mapping>& before,
                      const std::vector<uverbs_mapping>& after) {
    std::vector<uverbs_mapping> found;
    std::copy_if(after.begin(), after.end(), std::back_inserter(found), [&](const auto& m) {
        return std::none_of(before.begin(), before.end(),
                            [&](const uverbs_mapping& b) { return b.start == m.start; });
    });
    BOOST_REQUIRE_MESSAGE(found.size() == 2, found.size()
                                                 << " new uverbs mappings, not a QP's two rings");
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.offset < b.offset; });
    return {found[0], found[1]};
}

std::vector<uverbs_mapping> window_mappings(window_kind kind) {
    constexpr std::uint64_t page = 4096;
    constexpr std::uint64_t base = std::uint64_t{1} << 40;
    constexpr std::uint64_t span = std::uint64_t{1} << 20;
    constexpr std::uint64_t ring_len =
        (offsetof(dibs_rdma_ring, resp_data) + page - 1) / page * page;
    constexpr std::uint64_t own_len = sizeof(dibs_rdma_ring) / page * page;
    std::vector<uverbs_mapping> v;
    for (const uverbs_mapping& m : uverbs_mappings()) {
        const std::uint64_t pgoff = m.offset / page;
        if (pgoff < base || (pgoff - base) % span == span - 1) {
            continue;
        }
        const std::uint64_t len = m.end - m.start;
        const window_kind k = len == ring_len  ? window_kind::ring
                              : len == own_len ? window_kind::own_ring
                                               : window_kind::direct;
        if (k == kind) {
            v.push_back(m);
        }
    }
    return v;
}

int try_mmap(int fd, std::uint64_t offset, std::size_t len, int prot, int flags) {
    void* p = ::mmap(nullptr, len, prot, flags, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) {
        return errno;
    }
    ::munmap(p, len);
    return 0;
}

void check_bytes(std::span<const std::byte> got, std::span<const std::byte> want,
                 std::string_view what) {
    BOOST_REQUIRE_EQUAL(got.size(), want.size());
    const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin());
    const bool same = g == got.end();
    BOOST_TEST(same, what << ": " << got.size() << " bytes differ from byte " << (g - got.begin())
                          << " on (got 0x" << std::hex
                          << (g == got.end() ? 0 : std::to_integer<unsigned>(*g)) << ", want 0x"
                          << (w == want.end() ? 0 : std::to_integer<unsigned>(*w)) << std::dec
                          << ")");
}

ibv_wc post_and_complete(ibv_qp& qp, ibv_cq& cq, ibv_send_wr wr, ibv_wc_status status,
                         std::uint64_t wr_id) {
    BOOST_REQUIRE_EQUAL(post(qp, wr, wr_id), 0);
    const ibv_wc wc = completion_now(cq);
    BOOST_TEST(name(wc.status) == name(status));
    BOOST_TEST(wc.wr_id == wr_id);
    BOOST_TEST(wc.qp_num == qp.qp_num);
    return wc;
}

std::string_view dut() {
    static const std::string name = [] {
        const char* env = std::getenv("VERBS_CONFORMANCE_DEVICE"); // NOLINT(*-mt-unsafe)
        return std::string(env != nullptr && *env != '\0' ? env : lo0);
    }();
    return name;
}

lo0_device::lo0_device() : ctx(open_device(dut())), pd(alloc_pd(*ctx)) {}

rc_pair_options lo0_pair::options() {
    rc_pair_options opts;
    opts.caps.max_inline_data = 256;
    return opts;
}

lo0_pair::lo0_pair() : pair(rc_pair::create(*pd, *pd, options())) {}

fabric_devices::fabric_devices()
    : ctx1(open_device(lo1))
    , pd1(alloc_pd(*ctx1))
    , ctx2(open_device(lo2))
    , pd2(alloc_pd(*ctx2)) {}

} // namespace dibs::conformance
