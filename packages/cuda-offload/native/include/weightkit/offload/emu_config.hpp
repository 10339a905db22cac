// weightkit/offload/emu_config.hpp — the emulated device's model, apart from
// the emulated API so code that includes the real CUDA headers can use it.
#pragma once

namespace weightkit::offload::emu {

struct Config {
  double h2d_gbps = 25.0;          // pinned/registered host -> device bandwidth, GB/s (1e9 bytes)
  double pageable_factor = 0.33;   // pageable copies run at this fraction of it, and block the host
  double copy_latency_us = 5.0;    // fixed cost per copy
  double api_overhead_us = 0.0;    // host time per API call
  bool host_register_supported = true;
  bool host_register_readonly_supported = true;
  int async_engine_count = 1;
};

}  // namespace weightkit::offload::emu
