// SPDX-License-Identifier: GPL-2.0
//
// dibs-memcpy-bw - single-thread memcpy bandwidth, the reference the verbs benchmark compares
// RDMA WRITE against.
//
// Usage: dibs-memcpy-bw [BYTES [SECONDS]]   (defaults: 65536 bytes per copy, 1 second)
// Copies BYTES from one buffer to another repeatedly for about SECONDS and prints
// "memcpy BYTES MB_PER_SEC" (MB = 10^6 bytes, as perftest reports).
#include "cli.hpp"
#include "error.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr std::string_view usage = "usage: dibs-memcpy-bw [BYTES [SECONDS]]\n"
                                   "Single-thread memcpy bandwidth of BYTES-sized copies (default "
                                   "65536) for\n"
                                   "about SECONDS (default 1); prints: memcpy BYTES MB_PER_SEC\n";

/// text as a positive decimal number, or a usage error naming what it is.
[[nodiscard]] long parse_positive(const std::optional<std::string>& text, std::string_view what,
                                  long fallback) {
    if (!text) {
        return fallback;
    }
    long value = 0;
    const auto* const end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc{} || ptr != end || value <= 0) {
        throw dibs::tools::error::usage("invalid " + std::string{what} + " " +
                                        dibs::tools::quote(*text));
    }
    return value;
}

/// Copies bytes repeatedly for about seconds; returns MB/s.
double memcpy_bandwidth(std::size_t bytes, long seconds) {
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
    return static_cast<double>(copies * bytes) / took.count() / 1e6;
}

} // namespace

int main(int argc, char** argv) {
    using namespace dibs::tools;
    return report_errors("dibs-memcpy-bw", std::cout, std::cerr, [&] {
        const auto app = make_app("dibs-memcpy-bw");
        bool help = false;
        std::optional<std::string> bytes_text;
        std::optional<std::string> seconds_text;
        add_switch(*app, "-h,--help", help);
        app->add_option("BYTES", bytes_text);
        app->add_option("SECONDS", seconds_text);
        parse(*app, arguments(argc, argv));
        if (help) {
            std::cout << usage;
            return exit_ok;
        }
        const auto bytes = static_cast<std::size_t>(parse_positive(bytes_text, "size", 65536));
        const long seconds = parse_positive(seconds_text, "duration", 1);
        std::cout << std::flush;
        std::printf("memcpy %zu %.2f\n", bytes, memcpy_bandwidth(bytes, seconds));
        return exit_ok;
    });
}
