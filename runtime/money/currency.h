// runtime/money: the ISO 4217 currencies a plan can bill in, with their minor units. Read by
// compiler/sema (is `currency USD` a currency, how many decimals does it have) and by Money.
#pragma once

#include <span>
#include <string_view>

namespace tariff {

// One ISO 4217 currency. Instances live in a static table for the life of the program, so a
// `const Currency*` from FindCurrency or AllCurrencies() never dangles and two of them for the
// same code are the same pointer.
struct Currency {
  std::string_view code;  // alphabetic code, three upper-case letters: "USD"
  int minor_units;        // digits after the decimal point of the smallest unit: USD 2, JPY 0, BHD 3, CLF 4
  std::string_view name;  // ISO 4217 English name: "US Dollar"
  int numeric;            // ISO 4217 numeric code: 840 for USD
};

// The currency with alphabetic code `code`, or nullptr if there is none. Case-sensitive: "usd"
// is not a currency (the plan language writes codes in upper case; sema suggests the fix).
//
// The table is ISO 4217 List One as published 2024-06-25, with the later amendments XCG
// (Caribbean Guilder, replacing ANG in 2025) and XAD (Arab Accounting Dinar) added, and ANG and
// BGN (replaced by EUR on 2026-01-01) withdrawn. Codes for which ISO 4217 defines no minor unit
// ("N.A.": precious metals XAU XAG XPD XPT, bond-market units XBA–XBD, XDR, XSU, XUA, the test
// code XTS and "no currency" XXX) are deliberately absent: an amount in them cannot be rounded
// to a smallest unit, so no plan can bill in them. See docs/units-and-money.md.
const Currency* FindCurrency(std::string_view code);

// Every currency FindCurrency knows, sorted by code (strictly ascending, no duplicates).
std::span<const Currency> AllCurrencies();

}  // namespace tariff
