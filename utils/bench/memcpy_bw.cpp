// SPDX-License-Identifier: GPL-2.0
//
// dibs-memcpy-bw - single-thread memcpy bandwidth, the reference the verbs benchmark compares
// RDMA WRITE against.
//
// Usage: dibs-memcpy-bw [BYTES [SECONDS]]   (defaults: 65536 bytes per copy, 1 second)
// Copies BYTES from one buffer to another repeatedly for about SECONDS and prints
// "memcpy BYTES MB_PER_SEC" (MB = 10^6 bytes, as perftest reports).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

[[nodiscard]] long parse_positive(const char* text, std::string_view what) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value <= 0) {
        std::fprintf(stderr, "dibs-memcpy-bw: invalid %.*s '%s'\n", static_cast<int>(what.size()),
                     what.data(), text);
        std::exit(2);
    }
    return value;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 3 ||
        (argc > 1 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0))) {
        std::puts("usage: dibs-memcpy-bw [BYTES [SECONDS]]\n"
                  "Single-thread memcpy bandwidth of BYTES-sized copies (default 65536) for\n"
                  "about SECONDS (default 1); prints: memcpy BYTES MB_PER_SEC");
        return argc > 3 ? 2 : 0;
    }
    const auto bytes = static_cast<std::size_t>(argc > 1 ? parse_positive(argv[1], "size") : 65536);
    const long seconds = argc > 2 ? parse_positive(argv[2], "duration") : 1;

    std::vector<unsigned char> src(bytes, 0x5a);
    std::vector<unsigned char> dst(bytes);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto until = start + std::chrono::seconds(seconds);
    std::size_t copies = 0;
    while (clock::now() < until) {
        for (int i = 0; i < 64; ++i, ++copies) {
            std::memcpy(dst.data(), src.data(), bytes);
            // keep the copy observable so it is not optimised away
            asm volatile("" : : "r"(dst.data()) : "memory");
        }
    }
    const std::chrono::duration<double> took = clock::now() - start;
    std::printf("memcpy %zu %.2f\n", bytes,
                static_cast<double>(copies * bytes) / took.count() / 1e6);
    return 0;
}
