// SPDX-License-Identifier: GPL-2.0
//
// Files for unit tests: temp_dir, a fresh temporary directory removed with everything in it when
// the object goes away, and small whole-file helpers.
#ifndef DIBS_TESTS_TEST_FILES_HPP
#define DIBS_TESTS_TEST_FILES_HPP

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/test/unit_test.hpp>
#include <stdlib.h>

namespace dibs::test {

class temp_dir {
public:
    /// Creates <tmp>/<prefix>-XXXXXX.
    explicit temp_dir(std::string_view prefix) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        BOOST_REQUIRE_MESSAGE(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp " << tmpl);
        path_ = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    temp_dir(temp_dir&&) = delete;
    temp_dir& operator=(temp_dir&&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Writes a file (and its missing parent directories); fails the test if it cannot.
inline void spit(const std::filesystem::path& path, std::string_view content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

} // namespace dibs::test

#endif
