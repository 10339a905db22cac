// weightkit/dequantize.hpp against the JavaScript arithmetic it must match.
#include <cmath>
#include <cstring>
#include <vector>

#include "weightkit/dequantize.hpp"
#include "weightkit/testing.hpp"

namespace dq = weightkit::dequant;

TEST_CASE("js_round rounds halves toward +infinity, as Math.round") {
  CHECK_EQ(dq::js_round(2.5), 3.0);
  CHECK_EQ(dq::js_round(-2.5), -2.0);
  CHECK_EQ(dq::js_round(-0.5), 0.0);
  CHECK_EQ(dq::js_round(0.49999999999999994), 0.0);  // floor(x + 0.5) would give 1
  CHECK_EQ(dq::js_round(-64.5 + 0.5 * 1), -64.0);
}

TEST_CASE("js_to_int32 wraps as an Int32Array stores a double") {
  CHECK_EQ(dq::js_to_int32(2147483648.0), -2147483647 - 1);
  CHECK_EQ(dq::js_to_int32(4294967296.0 + 5), 5);
  CHECK_EQ(dq::js_to_int32(-2147483649.0), 2147483647);
  CHECK_EQ(dq::js_to_int32(-1.9), -1);
  CHECK_EQ(dq::js_to_int32(1e300), 0);  // a multiple of 2^32
  CHECK_EQ(dq::js_to_int32(INFINITY), 0);
  CHECK_EQ(dq::js_to_int32(-INFINITY), 0);
  CHECK_EQ(dq::js_to_int32(NAN), 0);
  CHECK_EQ(dq::js_to_int32(12345678901.0), static_cast<int32_t>(static_cast<uint32_t>(12345678901LL % 4294967296LL)));
}

TEST_CASE("float16 bits become tfjs's float32 bits: NaN payloads, subnormals, signed zero") {
  CHECK_EQ(dq::half_bits(0x7c01), 0x7f802000u);
  CHECK_EQ(dq::half_bits(0xfc01), 0xff802000u);
  CHECK_EQ(dq::half_bits(0x7c00), 0x7f800000u);
  CHECK_EQ(dq::half_bits(0x0001), 0x33800000u);
  CHECK_EQ(dq::half_bits(0x8000), 0x80000000u);
  CHECK_EQ(dq::half_bits(0x3c00), 0x3f800000u);
  const uint8_t src[4] = {0x01, 0x7c, 0x00, 0x3c};
  float out[2];
  dq::float16_to_float32(src, 2, out);
  uint32_t bits[2];
  std::memcpy(bits, out, 8);
  CHECK_EQ(bits[0], 0x7f802000u);
  CHECK_EQ(bits[1], 0x3f800000u);
}

TEST_CASE("affine uint8 and uint16: float32 of the double, int32 by Math.round") {
  uint8_t src8[256];
  for (int i = 0; i < 256; ++i) src8[i] = static_cast<uint8_t>(i);
  float f[256];
  int32_t n[256];
  dq::uint8_to_float32(src8, 256, 0.0123, -1.5, f);
  dq::uint8_to_int32(src8, 256, 0.5, -64.5, n);
  bool same = true;
  for (int i = 0; i < 256; ++i) {
    same = same && f[i] == static_cast<float>(i * 0.0123 + -1.5);
    same = same && n[i] == static_cast<int32_t>(dq::js_round(i * 0.5 - 64.5));
  }
  CHECK(same);
  const uint8_t src16[4] = {0x07, 0x00, 0xff, 0xff};  // 7, 65535
  float g[2];
  int32_t m[2];
  dq::uint16_to_float32(src16, 2, 1e-4, 3, g);
  dq::uint16_to_int32(src16, 2, 0.25, -100.5, m);
  CHECK_EQ(g[1], static_cast<float>(65535 * 1e-4 + 3));
  CHECK_EQ(m[0], -99);   // 7 * 0.25 - 100.5 = -98.75 -> -99
  CHECK_EQ(m[1], 16283); // 65535 * 0.25 - 100.5 = 16283.25
}

TEST_CASE("js_round_to_int32 is js_to_int32(js_round(x)) at every edge of its fast range") {
  const double edges[] = {-2147483648.5, -2147483648.49, -2147483647.5, -0.5, -0.49999999999999994, 0.5, 1.5, 2147483646.5,
                          2147483647.49, 2147483647.5, 2147483648.0, -1e10, 1e10, 4294967296.5, -4294967296.5, NAN, INFINITY, -INFINITY};
  for (double x : edges) CHECK_EQ(dq::js_round_to_int32(x), dq::js_to_int32(dq::js_round(x)));
}

TEST_CASE("uint16 to int32: the per-tensor table (2^17 values and more) gives the formula's values") {
  std::vector<uint8_t> src(2 * (size_t{1} << 17));
  for (size_t i = 0; i < src.size() / 2; ++i) {
    src[2 * i] = static_cast<uint8_t>(i * 7);
    src[2 * i + 1] = static_cast<uint8_t>(i >> 5);
  }
  const size_t n = src.size() / 2;
  std::vector<int32_t> table(n), formula(n);
  for (double scale : {0.25, 65536.5, 3.3e9}) {
    dq::uint16_to_int32(src.data(), n, scale, -100.5, table.data());
    dq::uint16_to_int32(src.data(), n - 1, scale, -100.5, formula.data());  // under the threshold: the formula
    CHECK(std::memcmp(table.data(), formula.data(), 4 * (n - 1)) == 0);
  }
}
