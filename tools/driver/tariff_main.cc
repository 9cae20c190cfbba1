// The `tariff` program: a thin main over the driver library (tools/driver/driver.h).
#include <iostream>
#include <string>
#include <vector>

#include "tools/driver/driver.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return tariff::driver::Run(args, std::cout, std::cerr);
}
