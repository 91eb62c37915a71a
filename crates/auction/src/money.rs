//! Integer KRW amounts and point balances.

/// An amount of Korean won. Never a float.
pub type Krw = i64;

/// Largest price or bid the platform accepts (1 billion KRW): far above any
/// fish, far below overflow.
pub const MAX_AMOUNT: Krw = 1_000_000_000;

/// Largest single charge or withdrawal (10 million KRW).
pub const MAX_WALLET_OPERATION: Krw = 10_000_000;

/// A positive amount for a charge or a withdrawal.
///
/// ```
/// # use sitga_auction::WalletAmount;
/// assert_eq!(WalletAmount::parse(5_000).unwrap().get(), 5_000);
/// assert!(WalletAmount::parse(0).is_err());
/// assert!(WalletAmount::parse(-5_000).is_err());
/// assert!(WalletAmount::parse(10_000_001).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletAmount(Krw);

impl WalletAmount {
    /// Parses an amount: 1 ..= [`MAX_WALLET_OPERATION`].
    pub fn parse(amount: Krw) -> Result<Self, String> {
        if amount <= 0 {
            return Err("amount must be a positive number of won".into());
        }
        if amount > MAX_WALLET_OPERATION {
            return Err(format!(
                "amount must be at most {MAX_WALLET_OPERATION} won per operation"
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
    /// # use sitga_auction::Wallet;
    /// assert_eq!(Wallet { balance: 50_000, held: 20_000 }.available(), 30_000);
    /// ```
    pub fn available(self) -> Krw {
        self.balance - self.held
    }
}
