//! sitga on an EVM chain: deploys the project's `DonationRegistry` contract
//! (`contracts/DonationRegistry.sol`, compiled into `assets/contracts/`),
//! records completed donations on it, and samples the chain for the
//! monitor. Built on alloy over JSON-RPC (HTTP).
//!
//! Nothing here touches the database or the web: `api` calls it from its
//! outbox worker and the monitor job, never from a request.

#![warn(missing_docs)]

#[cfg(feature = "test-support")]
pub mod anvil;

use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolEvent;
use sha2::{Digest, Sha256};

sol!(
    #[sol(rpc)]
    DonationRegistry,
    "../../assets/contracts/DonationRegistry.abi.json"
);

/// The contract's deployment bytecode (hex), as compiled by
/// `contracts/build.mjs`.
const BYTECODE_HEX: &str = include_str!("../../../assets/contracts/DonationRegistry.bin");

/// Blocks one monitor sample reads at most (the rest waits for the next).
pub const MAX_BLOCKS_PER_SAMPLE: u64 = 500;

/// What went wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A setting is unusable (bad URL, key or address).
    #[error("chain configuration: {0}")]
    Config(String),
    /// The node could not be reached or answered with an error.
    #[error("chain RPC: {0}")]
    Rpc(String),
    /// The transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(B256),
    /// No receipt within the wait.
    #[error("no receipt for transaction {0} within {1:?}")]
    Timeout(B256, Duration),
    /// The donation id is already on chain with another donor or weight
    /// (ids reused after a database restore, or a second deployment writing
    /// to the same contract). Never retried: an operator must look.
    #[error(
        "donation {donation_id} is already on chain with another donor or weight (transaction {tx_hash})"
    )]
    Conflict {
        /// The id.
        donation_id: u64,
        /// The transaction that recorded the other donation.
        tx_hash: B256,
    },
}

fn rpc(e: impl std::fmt::Display) -> ChainError {
    ChainError::Rpc(redact_urls(&e.to_string()))
}

/// An RPC URL as it may be shown or logged: scheme, host and port only.
/// Node providers put the API key in the path (`/v3/KEY`), the query or
/// the user info; none of those survive.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("?");
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if url.path().len() > 1 || url.query().is_some() {
                "/…"
            } else {
                ""
            };
            format!("{}://{host}{port}{rest}", url.scheme())
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// `text` with every URL in it passed through [`redact_url`] (client
/// errors quote the URL they failed on).
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters right before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A donation on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The transaction that recorded it.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
}

/// A donation as the chain holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChain {
    /// The salted donor reference.
    pub donor: [u8; 32],
    /// Grams.
    pub grams: u64,
    /// The transaction and block that recorded it.
    pub recorded: Recorded,
}

/// One monitor reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The latest block.
    pub latest_block: u64,
    /// The contract's donation counter.
    pub donation_count: u64,
    /// Transactions in the blocks read for this sample.
    pub transactions: u64,
    /// The last block read (the next sample starts after it).
    pub scanned_to: u64,
}

/// The salted donor reference written on chain: SHA-256 of the salt and the
/// user id. Opaque to anyone without the salt; stable for one user.
pub fn donor_reference(salt: &[u8], user_id: i64) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"sitga-donor-v1:");
    hash.update(salt);
    hash.update(b":");
    hash.update(user_id.to_be_bytes());
    hash.finalize().into()
}

/// Parses a `0x…` address.
pub fn parse_address(text: &str) -> Result<Address, ChainError> {
    text.trim()
        .parse()
        .map_err(|e| ChainError::Config(format!("contract address {text:?}: {e}")))
}

/// The private keys of the development accounts every anvil (and hardhat)
/// node funds, from the published mnemonic "test test … junk". Anyone can
/// sign with them, so they are refused unless the node is on this machine.
pub const PUBLIC_DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Whether `url` points at this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A signing connection to a node.
fn connect(rpc_url: &str, private_key: &str) -> Result<(DynProvider, Address), ChainError> {
    let url: url::Url = rpc_url
        .parse()
        .map_err(|e| ChainError::Config(format!("CHAIN_RPC_URL {}: {e}", redact_url(rpc_url))))?;
    let signer: PrivateKeySigner = private_key
        .trim()
        .parse()
        .map_err(|_| ChainError::Config("CHAIN_PRIVATE_KEY is not a hex private key".into()))?;
    let public = PUBLIC_DEV_KEYS.iter().any(|k| {
        k.parse::<PrivateKeySigner>()
            .is_ok_and(|dev| dev.address() == signer.address())
    });
    if public && !is_loopback_url(&url) {
        return Err(ChainError::Config(format!(
            "CHAIN_PRIVATE_KEY is one of anvil's public development keys; anyone can spend \
             from it, so it is only accepted with a node on this machine, not {}",
            redact_url(rpc_url)
        )));
    }
    let from = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    Ok((provider.erased(), from))
}

/// Waits up to `wait` for a sent transaction's receipt; a reverted one is
/// an error.
async fn mined(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    wait: Duration,
) -> Result<alloy::rpc::types::TransactionReceipt, ChainError> {
    let hash = *pending.tx_hash();
    let receipt = tokio::time::timeout(wait, pending.get_receipt())
        .await
        .map_err(|_| ChainError::Timeout(hash, wait))?
        .map_err(rpc)?;
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(ChainError::Reverted(hash))
    }
}

/// Deploys a new `DonationRegistry` from the key's account (which becomes
/// its only recorder); returns its address.
pub async fn deploy(
    rpc_url: &str,
    private_key: &str,
    wait: Duration,
) -> Result<Address, ChainError> {
    let (provider, _) = connect(rpc_url, private_key)?;
    let code: Bytes = BYTECODE_HEX
        .trim()
        .parse()
        .map_err(|e| ChainError::Config(format!("bundled bytecode: {e}")))?;
    let tx = TransactionRequest::default().with_deploy_code(code);
    let pending = provider.send_transaction(tx).await.map_err(rpc)?;
    let receipt = mined(pending, wait).await?;
    receipt
        .contract_address
        .ok_or_else(|| ChainError::Rpc("deployment receipt without a contract address".into()))
}

/// The deployed registry, through a signing connection.
#[derive(Clone, Debug)]
pub struct ChainClient {
    provider: DynProvider,
    contract: Address,
    recorder: Address,
}

impl ChainClient {
    /// Connects to `rpc_url` signing with `private_key`, for the registry at
    /// `contract`. Nothing is sent until a call.
    pub fn new(rpc_url: &str, private_key: &str, contract: Address) -> Result<Self, ChainError> {
        let (provider, recorder) = connect(rpc_url, private_key)?;
        Ok(Self {
            provider,
            contract,
            recorder,
        })
    }

    /// The registry's address.
    pub fn contract(&self) -> Address {
        self.contract
    }

    /// The account that signs.
    pub fn recorder(&self) -> Address {
        self.recorder
    }

    /// Checks the node answers and the contract exists there.
    pub async fn check(&self) -> Result<u64, ChainError> {
        let code = self
            .provider
            .get_code_at(self.contract)
            .await
            .map_err(rpc)?;
        if code.is_empty() {
            return Err(ChainError::Config(format!(
                "no contract at {} on this chain (run `sitga chain deploy`)",
                self.contract
            )));
        }
        self.provider.get_block_number().await.map_err(rpc)
    }

    /// Records donation `donation_id`, waiting up to `wait` for the receipt.
    /// If it was recorded before (a retry after an unseen receipt), returns
    /// that earlier transaction instead of sending another; if the id holds
    /// a different donation, [`ChainError::Conflict`].
    pub async fn record(
        &self,
        donation_id: u64,
        donor: [u8; 32],
        grams: u64,
        wait: Duration,
    ) -> Result<Recorded, ChainError> {
        if let Some(earlier) = self.find_recorded(donation_id, donor, grams).await? {
            return Ok(earlier);
        }
        let registry = DonationRegistry::new(self.contract, &self.provider);
        let pending = registry
            .recordDonation(U256::from(donation_id), B256::from(donor), grams)
            .send()
            .await
            .map_err(rpc)?;
        let receipt = mined(pending, wait).await?;
        Ok(Recorded {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
        })
    }

    /// The transaction that recorded this donation (`donation_id` with this
    /// donor and weight), if any, from the contract's `DonationRecorded`
    /// events. The id alone is not enough: after a database restore a
    /// reused id must not show another donation's proof.
    pub async fn find_recorded(
        &self,
        donation_id: u64,
        donor: [u8; 32],
        grams: u64,
    ) -> Result<Option<Recorded>, ChainError> {
        let Some(found) = self.read_donation(donation_id).await? else {
            return Ok(None);
        };
        if found.donor != donor || found.grams != grams {
            return Err(ChainError::Conflict {
                donation_id,
                tx_hash: found.recorded.tx_hash,
            });
        }
        Ok(Some(found.recorded))
    }

    /// What the chain says of donation `donation_id`, read back from the
    /// contract's `DonationRecorded` event: who (the salted reference),
    /// how much and where. `None` when the contract has no such donation.
    pub async fn read_donation(&self, donation_id: u64) -> Result<Option<OnChain>, ChainError> {
        let registry = DonationRegistry::new(self.contract, &self.provider);
        let done = registry
            .recorded(U256::from(donation_id))
            .call()
            .await
            .map_err(rpc)?;
        if !done {
            return Ok(None);
        }
        let filter = Filter::new()
            .address(self.contract)
            .event_signature(DonationRegistry::DonationRecorded::SIGNATURE_HASH)
            .topic1(B256::from(U256::from(donation_id)))
            .from_block(0u64);
        let logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        let Some(log) = logs.first() else {
            return Ok(None);
        };
        let event = log
            .log_decode::<DonationRegistry::DonationRecorded>()
            .map_err(|e| ChainError::Rpc(format!("undecodable DonationRecorded event: {e}")))?;
        let (Some(tx_hash), Some(block_number)) = (log.transaction_hash, log.block_number) else {
            return Ok(None);
        };
        let data = event.inner.data;
        Ok(Some(OnChain {
            donor: data.donor.0,
            grams: data.grams,
            recorded: Recorded {
                tx_hash,
                block_number,
            },
        }))
    }

    /// Reads the chain for the monitor: the latest block, the contract's
    /// counter, and the transactions in the blocks after `after` (at most
    /// [`MAX_BLOCKS_PER_SAMPLE`] of them; all blocks when `after` is `None`,
    /// within the same cap from the latest).
    pub async fn sample(&self, after: Option<u64>) -> Result<Sample, ChainError> {
        let latest = self.provider.get_block_number().await.map_err(rpc)?;
        let registry = DonationRegistry::new(self.contract, &self.provider);
        let count = registry.donationCount().call().await.map_err(rpc)?;
        let first = match after {
            Some(block) => block.saturating_add(1),
            None => latest.saturating_sub(MAX_BLOCKS_PER_SAMPLE - 1),
        };
        let last = latest.min(first.saturating_add(MAX_BLOCKS_PER_SAMPLE - 1));
        let mut transactions = 0u64;
        for number in first..=last {
            if let Some(n) = self
                .provider
                .get_block_transaction_count_by_number(number.into())
                .await
                .map_err(rpc)?
            {
                transactions += n;
            }
        }
        Ok(Sample {
            latest_block: latest,
            donation_count: u64::try_from(count).unwrap_or(u64::MAX),
            transactions,
            scanned_to: if first > last {
                after.unwrap_or(latest)
            } else {
                last
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_development_keys_only_with_a_local_node() {
        let contract = Address::ZERO;
        for key in PUBLIC_DEV_KEYS {
            match ChainClient::new("https://rpc.example.net/v3/s3cretpath", key, contract) {
                Err(ChainError::Config(message)) => {
                    assert!(message.contains("public development keys"), "{message}");
                    assert!(
                        !message.contains("s3cretpath"),
                        "the URL is redacted: {message}"
                    );
                }
                other => panic!("a dev key with a remote node was accepted: {other:?}"),
            }
            for local in [
                "http://127.0.0.1:8545",
                "http://localhost:8545",
                "http://[::1]:8545",
            ] {
                assert!(ChainClient::new(local, key, contract).is_ok(), "{local}");
            }
        }
        // Any other key may talk to a remote node.
        let own = "0x1111111111111111111111111111111111111111111111111111111111111111";
        assert!(ChainClient::new("https://rpc.example.net", own, contract).is_ok());
    }

    #[test]
    fn urls_lose_their_keys_in_errors_and_logs() {
        assert_eq!(
            redact_url("https://mainnet.infura.io/v3/0123456789abcdef"),
            "https://mainnet.infura.io/…"
        );
        assert_eq!(
            redact_url("https://user:s3cret@node.example:8545/?key=abc"),
            "https://node.example:8545/…"
        );
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        let message = redact_urls(
            "error sending request for url (https://eth.example/v2/KEY123): connection refused",
        );
        assert_eq!(
            message,
            "error sending request for url (https://eth.example/…): connection refused"
        );
        assert!(!redact_urls("ws://a:b@h/x and https://h2/y?k=1").contains("k=1"));
    }

    #[test]
    fn donor_reference_is_salted_stable_and_opaque() {
        let a = donor_reference(b"salt-1", 42);
        assert_eq!(a, donor_reference(b"salt-1", 42));
        assert_ne!(a, donor_reference(b"salt-2", 42));
        assert_ne!(a, donor_reference(b"salt-1", 43));
    }

    #[test]
    fn bundled_bytecode_is_hex() {
        let code: Bytes = BYTECODE_HEX.trim().parse().unwrap();
        assert!(code.len() > 100);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        assert!(matches!(
            ChainClient::new("not a url", "0x01", Address::ZERO),
            Err(ChainError::Config(_))
        ));
        assert!(matches!(
            ChainClient::new("http://127.0.0.1:1", "nope", Address::ZERO),
            Err(ChainError::Config(_))
        ));
        assert!(matches!(parse_address("0x12"), Err(ChainError::Config(_))));
    }
}
