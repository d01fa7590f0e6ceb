// The subscript type of the FITPACK ports. FITPACK's indices are ints, as in its Fortran, and the ports keep
// them so that each loop reads as Dierckx's; where one subscripts a std::vector or std::array it is never
// negative, and ix(i) converts it to the container's size type.
#pragma once

#include <cstddef>

namespace ferrum::detail {

constexpr std::size_t ix(int i) noexcept { return static_cast<std::size_t>(i); }

}  // namespace ferrum::detail
