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
