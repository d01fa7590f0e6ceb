// The smallest real use of ferrum from outside the source tree.
#include <ferrum/ferrum.hpp>

#include <cstdio>

int main() {
    const auto v = ferrum::version();
    std::printf("ferrum %d.%d.%d, default backend %s\n", v.major, v.minor, v.patch, ferrum::default_backend::name);
    return 0;
}
