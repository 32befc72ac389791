// SPDX-License-Identifier: GPL-2.0
//
// dibs-region-scribbler: a hostile guest, played by a host program. It maps a dibs ivshmem region
// (include/uapi/linux/dibs_ivshmem.h) and rewrites random parts of it for a while: the region
// header, peers' info pages, DMB directory entries, message rings and DMB contents in the arenas.
// The guests' kernels must log and refuse what is wrong, never read or write outside the region,
// never oops (tests/ivshmem/cross-vm.sh, case hostile; utils/vm/vm-group --host-cmd runs it).
#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <fcntl.h>
#include <linux/dibs_ivshmem.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using dibs::tools::error;
using dibs::tools::unique_fd;

constexpr std::string_view tool = "dibs-region-scribbler";

constexpr std::string_view help = R"(Usage: dibs-region-scribbler --shm PATH [OPTIONS]

Rewrites random parts of the dibs ivshmem region in PATH (the shared-memory file of
dibs-ivshmem-server) as a hostile guest could, for a while, then prints how many writes
went where. Each write picks a target at random:
  header     a field of the region header
  peer       a field of a peer slot's info page (state, epoch, GID, heartbeat, VLANs)
  directory  a field of a DMB directory entry (token, offset, length, GID)
  ring       a message ring's producer or consumer index, or an entry
  arena      bytes of DMB memory (the clients' rings and buffers)
and writes a random value, or 0, or all ones, or a large value.

Options:
  --shm PATH       the region file (required)
  --seconds N      how long to write (default 10)
  --rate N         writes per second (default 2000)
  --slots N        peer slots to aim at, 0..N-1 (default 2: the guests of a pair)
  --seed N         random seed (default: random; printed)
  -h, --help       this text
)";

/// The mapped region file.
class region {
public:
    explicit region(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC)) {
        if (!fd_) {
            throw error::system(tool, "open", path, errno);
        }
        struct stat st {};
        if (::fstat(fd_.get(), &st) != 0) {
            throw error::system(tool, "stat", path, errno);
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ < DIBS_IVSHMEM_MIN_REGION) {
            throw error::usage("region " + path + " is too small: " + std::to_string(size_));
        }
        void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
        if (p == MAP_FAILED) {
            throw error::system(tool, "map", path, errno);
        }
        base_ = static_cast<std::uint8_t*>(p);
    }
    region(const region&) = delete;
    region& operator=(const region&) = delete;
    region(region&&) = delete;
    region& operator=(region&&) = delete;
    ~region() { ::munmap(base_, size_); }

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::uint64_t section_size() const { return DIBS_IVSHMEM_SECTION_SIZE(size_); }
    /// Start of peer slot `slot`'s section.
    [[nodiscard]] std::uint64_t section(unsigned slot) const {
        return DIBS_IVSHMEM_PAGE + slot * section_size();
    }
    /// Writes `len` (<= 8) bytes of `value` at `off`, inside the region.
    void write(std::uint64_t off, std::uint64_t value, std::size_t len) {
        if (off + len <= size_) {
            std::memcpy(base_ + off, &value, len);
        }
    }

private:
    unique_fd fd_;
    std::size_t size_ = 0;
    std::uint8_t* base_ = nullptr;
};

class scribbler {
public:
    scribbler(region& r, unsigned slots, std::uint64_t seed) : r_(r), slots_(slots), rng_(seed) {}

    /// One write at a random target; returns the target's name.
    std::string_view once() {
        const auto slot = static_cast<unsigned>(pick(slots_));
        const std::uint64_t sec = r_.section(slot);
        switch (pick(5)) {
        case 0: // header: magic, version, sizes, fabric, offsets
            r_.write(pick(sizeof(dibs_ivshmem_hdr) / 4) * 4, value(), 4);
            return "header";
        case 1: { // peer info: the first 56 bytes are its fields
            static constexpr std::array<std::uint64_t, 6> fields = {
                offsetof(dibs_ivshmem_peer, state),     offsetof(dibs_ivshmem_peer, nr_vlans),
                offsetof(dibs_ivshmem_peer, epoch),     offsetof(dibs_ivshmem_peer, gid),
                offsetof(dibs_ivshmem_peer, heartbeat), offsetof(dibs_ivshmem_peer, vlan)};
            r_.write(sec + fields.at(pick(fields.size())), value(), 8);
            return "peer";
        }
        case 2: { // directory entry: token, off, len, rgid
            const std::uint64_t e = sec + DIBS_IVSHMEM_DIR_OFF +
                                    pick(DIBS_IVSHMEM_MAX_DMBS) * sizeof(dibs_ivshmem_dmb_desc);
            r_.write(e + pick(sizeof(dibs_ivshmem_dmb_desc) / 4) * 4, value(), 4);
            return "directory";
        }
        case 3: { // ring of sender pick() in this section: prod, cons or an entry
            const std::uint64_t ring = sec + DIBS_IVSHMEM_RINGS_OFF +
                                       pick(DIBS_IVSHMEM_MAX_PEERS) * sizeof(dibs_ivshmem_ring);
            switch (pick(3)) {
            case 0:
                r_.write(ring + offsetof(dibs_ivshmem_ring, prod), value(), 4);
                break;
            case 1:
                r_.write(ring + offsetof(dibs_ivshmem_ring, cons), value(), 4);
                break;
            default:
                r_.write(ring + offsetof(dibs_ivshmem_ring, msg) +
                             pick(DIBS_IVSHMEM_RING_ENTRIES) * sizeof(dibs_ivshmem_msg) +
                             pick(sizeof(dibs_ivshmem_msg) / 4) * 4,
                         value(), 4);
            }
            return "ring";
        }
        default: { // arena: the first MiB, where the first DMBs are
            const std::uint64_t arena = sec + DIBS_IVSHMEM_ARENA_OFF;
            r_.write(arena + pick(1U << 20) / 8 * 8, value(), 8);
            return "arena";
        }
        }
    }

private:
    std::uint64_t pick(std::uint64_t n) {
        return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
    }
    /// A value a hostile writer would try: random, 0, all ones, or large.
    std::uint64_t value() {
        switch (pick(4)) {
        case 0:
            return 0;
        case 1:
            return ~std::uint64_t{0};
        case 2:
            return std::uint64_t{1} << pick(64);
        default:
            return rng_();
        }
    }

    region& r_;
    unsigned slots_;
    std::mt19937_64 rng_;
};

int run(std::span<const std::string_view> args) {
    auto app = dibs::tools::make_app(tool);
    std::string shm;
    unsigned seconds = 10;
    unsigned rate = 2000;
    unsigned slots = 2;
    std::uint64_t seed = std::random_device{}();
    bool want_help = false;
    app->add_option("--shm", shm);
    app->add_option("--seconds", seconds)->check(CLI::Range(1U, 86400U));
    app->add_option("--rate", rate)->check(CLI::Range(1U, 1000000U));
    app->add_option("--slots", slots)->check(CLI::Range(1U, unsigned{DIBS_IVSHMEM_MAX_PEERS}));
    app->add_option("--seed", seed);
    dibs::tools::add_switch(*app, "-h,--help", want_help);
    dibs::tools::parse(*app, args);
    if (want_help) {
        std::cout << help;
        return dibs::tools::exit_ok;
    }
    if (shm.empty()) {
        throw error::usage("--shm is required");
    }
    region r(shm);
    scribbler s(r, slots, seed);
    std::cout << tool << ": " << shm << ", " << seconds << " s at " << rate << " writes/s, slots 0-"
              << slots - 1 << ", seed " << seed << std::endl;
    std::map<std::string_view, unsigned long> counts;
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    const auto step = std::chrono::nanoseconds(1'000'000'000ULL / rate);
    auto next = start;
    unsigned long total = 0;
    while (next < end) {
        ++counts[s.once()];
        ++total;
        next += step;
        std::this_thread::sleep_until(next);
    }
    std::cout << tool << ": " << total << " writes:";
    for (const auto& [target, n] : counts) {
        std::cout << ' ' << target << ' ' << n;
    }
    std::cout << std::endl;
    return dibs::tools::exit_ok;
}

} // namespace

int main(int argc, char* argv[]) {
    const auto args = dibs::tools::arguments(argc, argv);
    return dibs::tools::report_errors(tool, std::cout, std::cerr, [&] { return run(args); });
}
