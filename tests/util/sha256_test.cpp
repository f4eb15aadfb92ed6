#include <gpuenv/util/sha256.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <support/temp_dir.hpp>

namespace gpuenv::util {
namespace {

namespace fs = std::filesystem;

// Hex and RECORD forms computed with python3:
//   d = hashlib.sha256(b).digest(); d.hex(); base64.urlsafe_b64encode(d).rstrip(b'=')
struct Vector {
    std::string input;
    const char* hex;
    const char* base64url;
};

std::vector<Vector> vectors() {
    std::string all_bytes;
    for (int i = 0; i < 256; ++i)
        all_bytes.push_back(static_cast<char>(i));
    return {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
         "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
         "JI1qYdIGOLjlwCaTDD5gOaM85Flk_yFn9uzt1BnbBsE"},
        {std::string(1000000, 'a'),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
         "zcduXJkU-5KBocfihNc-Z_GAmkiklyAOBG05zMcRLNA"},
        {"hello\n", "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
         "WJG1tSLV3whtD_CxEPvZ0hu0_HFjrzTQgoai6Eb2vgM"},
        {all_bytes, "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880",
         "QK_y6dLYki5Hr9RkjmlnSXFYeF-9Hahw5xECZr-USIA"},
    };
}

TEST(Sha256, KnownVectorsInHex) {
    for (const auto& v : vectors()) {
        SCOPED_TRACE(v.input.size());
        EXPECT_EQ(sha256_hex(v.input), v.hex);
    }
}

TEST(Sha256, Base64UrlWithoutPaddingMatchesPython) {
    for (const auto& v : vectors()) {
        SCOPED_TRACE(v.input.size());
        Sha256 hash;
        hash.update(v.input);
        const auto digest = hash.finish();
        EXPECT_EQ(to_hex(digest), v.hex);
        const std::string encoded = to_base64url_nopad(digest);
        EXPECT_EQ(encoded, v.base64url);
        EXPECT_EQ(encoded.size(), 43U);  // 32 bytes: 42 full sextets and 4 bits, no '='
        EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    }
}

TEST(Sha256, IncrementalUpdatesEqualOneShot) {
    const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (std::size_t split = 0; split <= text.size(); split += 7) {
        Sha256 hash;
        hash.update(std::string_view(text).substr(0, split));
        hash.update(std::string_view(text).substr(split));
        EXPECT_EQ(to_hex(hash.finish()), sha256_hex(text)) << split;
    }
}

TEST(Sha256, FileHashReusesItsBuffer) {
    const test::TempDir dir;
    std::vector<char> buffer;
    std::string error;
    for (const auto& v : vectors()) {
        const fs::path file = dir / ("f" + std::to_string(v.input.size()));
        test::write_file(file, v.input);
        const auto digest = sha256_file(file, buffer, error);
        ASSERT_TRUE(digest.has_value()) << error;
        EXPECT_EQ(to_hex(*digest), v.hex);
    }
    // The million-byte vector is larger than the buffer, so it was read in several pieces.
    EXPECT_LT(buffer.size(), 1000000U);
    EXPECT_GT(buffer.size(), 0U);
}

TEST(Sha256, FileHashReportsWhyItCannotRead) {
    const test::TempDir dir;
    std::vector<char> buffer;
    std::string error;
    EXPECT_FALSE(sha256_file(dir / "absent", buffer, error).has_value());
    EXPECT_EQ(error, "No such file or directory");
    error.clear();
    EXPECT_FALSE(sha256_file(dir.path(), buffer, error).has_value());  // a directory
    EXPECT_FALSE(error.empty());
}

TEST(Sha256, FileHashFollowsSymlinks) {
    const test::TempDir dir;
    test::write_file(dir / "target", "abc");
    fs::create_symlink("target", dir / "link");
    std::vector<char> buffer;
    std::string error;
    const auto digest = sha256_file(dir / "link", buffer, error);
    ASSERT_TRUE(digest.has_value()) << error;
    EXPECT_EQ(to_hex(*digest), sha256_hex("abc"));
}

}  // namespace
}  // namespace gpuenv::util
