// SPDX-License-Identifier: GPL-2.0
//
// temp_dir: a fresh temporary directory for a unit test, removed with everything in it when the
// object goes away.
#ifndef DIBS_TESTS_TEMP_DIR_HPP
#define DIBS_TESTS_TEMP_DIR_HPP

#include <filesystem>
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

} // namespace dibs::test

#endif
