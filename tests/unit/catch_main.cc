// The Catch2 test runner's main, compiled once for every unit test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
