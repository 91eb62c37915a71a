//! The 17 first-level divisions of South Korea.

use crate::FieldError;

macro_rules! provinces {
    ($( $variant:ident => ($code:literal, $ko:literal, $en:literal) ),+ $(,)?) => {
        /// A first-level division of South Korea, stored as a stable code.
        ///
        /// ```
        /// # use sitga_core::Province;
        /// let p = Province::parse("seoul").unwrap();
        /// assert_eq!((p.code(), p.name_ko(), p.name_en()), ("seoul", "서울특별시", "Seoul"));
        /// assert_eq!(Province::ALL.len(), 17);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Province {
            $( #[doc = $en] $variant, )+
        }

        impl Province {
            /// Every province, in the official order.
            pub const ALL: &'static [Province] = &[$( Province::$variant ),+];

            /// The stable code stored in the database and used in the API.
            pub fn code(self) -> &'static str {
                match self { $( Province::$variant => $code, )+ }
            }

            /// The official Korean name.
            pub fn name_ko(self) -> &'static str {
                match self { $( Province::$variant => $ko, )+ }
            }

            /// The English name.
            pub fn name_en(self) -> &'static str {
                match self { $( Province::$variant => $en, )+ }
            }
        }
    };
}

provinces! {
    Seoul => ("seoul", "서울특별시", "Seoul"),
    Busan => ("busan", "부산광역시", "Busan"),
    Daegu => ("daegu", "대구광역시", "Daegu"),
    Incheon => ("incheon", "인천광역시", "Incheon"),
    Gwangju => ("gwangju", "광주광역시", "Gwangju"),
    Daejeon => ("daejeon", "대전광역시", "Daejeon"),
    Ulsan => ("ulsan", "울산광역시", "Ulsan"),
    Sejong => ("sejong", "세종특별자치시", "Sejong"),
    Gyeonggi => ("gyeonggi", "경기도", "Gyeonggi"),
    Gangwon => ("gangwon", "강원특별자치도", "Gangwon"),
    Chungbuk => ("chungbuk", "충청북도", "North Chungcheong"),
    Chungnam => ("chungnam", "충청남도", "South Chungcheong"),
    Jeonbuk => ("jeonbuk", "전북특별자치도", "Jeonbuk"),
    Jeonnam => ("jeonnam", "전라남도", "South Jeolla"),
    Gyeongbuk => ("gyeongbuk", "경상북도", "North Gyeongsang"),
    Gyeongnam => ("gyeongnam", "경상남도", "South Gyeongsang"),
    Jeju => ("jeju", "제주특별자치도", "Jeju"),
}

impl Province {
    /// Parses a province from its code, its Korean name or its English name
    /// (case-insensitive), so that `"Seoul"`, `"seoul"` and `"서울특별시"`
    /// are all Seoul.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = raw.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|p| {
                p.code() == text.to_ascii_lowercase()
                    || p.name_ko() == text
                    || p.name_en().eq_ignore_ascii_case(text)
            })
            .ok_or_else(|| {
                FieldError::new(
                    "province",
                    format!("unknown province {text:?}; see GET /api/v1/provinces"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes: Vec<_> = Province::ALL.iter().map(|p| p.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 17);
        for p in Province::ALL {
            assert_eq!(Province::parse(p.code()).unwrap(), *p);
            assert_eq!(Province::parse(p.name_ko()).unwrap(), *p);
            assert_eq!(Province::parse(p.name_en()).unwrap(), *p);
        }
    }

    #[test]
    fn unknown_province_is_rejected() {
        for bad in ["", "Tokyo", "seoul; DROP TABLE users", "서울"] {
            assert_eq!(Province::parse(bad).unwrap_err().field, "province");
        }
    }
}
