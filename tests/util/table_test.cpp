#include <gtest/gtest.h>

#include <gpuenv/util/table.hpp>

namespace gpuenv::util {

TEST(Table, AlignsColumnsWithTwoSpacesAndTrimsTrailingBlanks) {
    Table table({"# Name", "Version", "Build"});
    table.add_row({"numpy", "1.26.4", "py311_0"});
    table.add_row({"pip", "24.0", ""});
    EXPECT_EQ(table.render(),
              "# Name  Version  Build\n"
              "numpy   1.26.4   py311_0\n"
              "pip     24.0\n");
}

TEST(Table, CountsUtf8CodePointsAsOneColumn) {
    Table table({"a", "b"});
    table.add_row({"é", "x"});
    EXPECT_EQ(table.render(), "a  b\né  x\n");
}

TEST(Table, RejectsRowsWiderThanTheHeader) {
    Table table({"a"});
    EXPECT_THROW(table.add_row({"1", "2"}), std::logic_error);
}

}  // namespace gpuenv::util
