"""Schemathesis hooks for sitga's OpenAPI document.

`format: nickname` is a custom format: a nickname is 2-20 letters of one
script family (Hangul and Latin may mix), digits, `_`, `-` and `.`, with no
look-alike or invisible characters. A pattern cannot say all of that, so the
fuzzer gets a generator of valid ones here (invalid ones it derives from the
length limits and types).
"""

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "nickname",
    st.from_regex(r"\A[a-z가-힣][a-z0-9가-힣_.-]{1,15}\Z", fullmatch=True),
)


def _with_check_digit(first_nine: str) -> str:
    """A 사업자등록번호 from its first nine digits: weights 1 3 7 1 3 7 1 3 5,
    plus the tens of the ninth digit x 5; the check digit makes it 0 mod 10."""
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, [1, 3, 7, 1, 3, 7, 1, 3, 5]))
    total += digits[8] * 5 // 10
    number = first_nine + str((10 - total % 10) % 10)
    return f"{number[:3]}-{number[3:5]}-{number[5:]}"


# `format: business-number`: valid registration numbers (the check digit is
# more than the document's pattern can say).
schemathesis.openapi.format(
    "business-number",
    st.from_regex(r"\A[0-9]{9}\Z", fullmatch=True).map(_with_check_digit),
)
