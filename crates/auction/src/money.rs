//! Integer KRW amounts and point balances.

use sitga_core::FieldError;
pub use sitga_core::Krw;

/// Largest price or bid the platform accepts (1 billion KRW): far above any
/// fish, far below overflow.
pub const MAX_AMOUNT: Krw = Krw::new(1_000_000_000);

/// Largest single charge or withdrawal (10 million KRW).
pub const MAX_WALLET_OPERATION: Krw = Krw::new(10_000_000);

/// A positive amount for a charge or a withdrawal.
///
/// ```
/// # use sitga_auction::{Krw, WalletAmount};
/// assert_eq!(WalletAmount::parse(Krw::new(5_000)).unwrap().get(), Krw::new(5_000));
/// assert!(WalletAmount::parse(Krw::ZERO).is_err());
/// assert!(WalletAmount::parse(Krw::new(-5_000)).is_err());
/// let too_much = WalletAmount::parse(Krw::new(10_000_001)).unwrap_err();
/// assert_eq!(too_much.field, "amount");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct WalletAmount(Krw);

impl WalletAmount {
    /// Parses an amount: 1 ..= [`MAX_WALLET_OPERATION`].
    pub fn parse(amount: Krw) -> Result<Self, FieldError> {
        if !amount.is_positive() {
            return Err(FieldError::new(
                "amount",
                "amount must be a positive number of won",
            ));
        }
        if amount > MAX_WALLET_OPERATION {
            return Err(FieldError::new(
                "amount",
                format!("amount must be at most {MAX_WALLET_OPERATION} won per operation"),
            ));
        }
        Ok(Self(amount))
    }

    /// The amount in won.
    pub fn get(self) -> Krw {
        self.0
    }
}

/// A user's points: `balance` is what they own, `held` the part reserved
/// by bids they currently lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Wallet {
    /// Points owned (charges − withdrawals − payments made + payments received).
    pub balance: Krw,
    /// Points reserved by leading bids.
    pub held: Krw,
}

impl Wallet {
    /// What can be bid or withdrawn now.
    ///
    /// ```
    /// # use sitga_auction::{Krw, Wallet};
    /// let wallet = Wallet { balance: Krw::new(50_000), held: Krw::new(20_000) };
    /// assert_eq!(wallet.available(), Krw::new(30_000));
    /// ```
    pub fn available(self) -> Krw {
        self.balance - self.held
    }
}
