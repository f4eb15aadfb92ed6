#include <gtest/gtest.h>

#include <string>

#include <gpuenv/core/env/channel.hpp>

namespace gpuenv::core::env {

namespace {

std::string display(std::string channel, std::string subdir = "linux-64", std::string url = "") {
    CondaRecord record;
    record.channel = std::move(channel);
    record.subdir = std::move(subdir);
    record.url = std::move(url);
    return channel_display_name(record);
}

}  // namespace

TEST(ChannelDisplayName, CondaUrlWithSubdirShowsTheChannelName) {
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge/linux-64"), "conda-forge");
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge/noarch", "noarch"), "conda-forge");
    EXPECT_EQ(display("http://conda.anaconda.org/bioconda/osx-arm64", "osx-arm64"), "bioconda");
    // A subdir other than the record's is still a subdir.
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge/linux-aarch64"), "conda-forge");
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge/label/rc/win-64", "win-64"),
              "conda-forge/label/rc");
}

TEST(ChannelDisplayName, RattlerTrailingSlashIsDropped) {
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge/", "osx-arm64"), "conda-forge");
    EXPECT_EQ(display("https://conda.anaconda.org/conda-forge"), "conda-forge");
}

TEST(ChannelDisplayName, AnacondaDefaultsShowAsPkgsPath) {
    EXPECT_EQ(display("https://repo.anaconda.com/pkgs/main/win-64", "win-64"), "pkgs/main");
    EXPECT_EQ(display("https://repo.anaconda.com/pkgs/main"), "pkgs/main");
    EXPECT_EQ(display("https://repo.anaconda.com/pkgs/r/noarch", "noarch"), "pkgs/r");
}

TEST(ChannelDisplayName, OtherUrlsStayUrls) {
    EXPECT_EQ(display("https://my.server.example/channels/internal/linux-64/"),
              "https://my.server.example/channels/internal");
    EXPECT_EQ(display("file:///opt/channel/noarch", "noarch"), "file:///opt/channel");
    EXPECT_EQ(display("https://host.example/chan/custom-sub", "custom-sub"),
              "https://host.example/chan");
    // Not a subdir: "linux" alone, an unknown os, or the host itself.
    EXPECT_EQ(display("https://host.example/chan/linux"), "https://host.example/chan/linux");
    EXPECT_EQ(display("https://host.example/chan/macos-64"), "https://host.example/chan/macos-64");
    EXPECT_EQ(display("https://linux-64"), "https://linux-64");
}

TEST(ChannelDisplayName, PlainNamesKeepTheirName) {
    EXPECT_EQ(display("conda-forge"), "conda-forge");
    EXPECT_EQ(display("conda-forge/noarch", "noarch"), "conda-forge");
    EXPECT_EQ(display("pkgs/main/linux-64"), "pkgs/main");
    EXPECT_EQ(display("conda-forge/"), "conda-forge");
    EXPECT_EQ(display("linux-64"), "linux-64");
}

TEST(ChannelDisplayName, EmptyChannelIsDerivedFromUrl) {
    EXPECT_EQ(
        display("", "noarch",
                "https://conda.anaconda.org/conda-forge/noarch/tzdata-2024a-h0c530f3_0.conda"),
        "conda-forge");
    EXPECT_EQ(display("", "linux-64", "https://repo.anaconda.com/pkgs/main/linux-64/x-1-0.tar.bz2"),
              "pkgs/main");
    EXPECT_EQ(display("", "linux-64", ""), "");
    EXPECT_EQ(display("", "linux-64", "x-1-0.conda"), "");
}

TEST(ChannelDisplayName, TokensAndCredentialsAreRemoved) {
    EXPECT_EQ(display("https://conda.anaconda.org/t/tk-0123abcd/my-org/linux-64"), "my-org");
    EXPECT_EQ(display("https://host.example/t/s3cr3t/chan/osx-arm64", "osx-arm64"),
              "https://host.example/chan");
    EXPECT_EQ(display("https://user:pass@host.example/chan/linux-64/"),
              "https://host.example/chan");
    EXPECT_EQ(
        display("", "linux-64", "https://conda.anaconda.org/t/tk-1/private/linux-64/x-1-0.conda"),
        "private");
}

}  // namespace gpuenv::core::env
