//! Against a real local chain (anvil): deploy, record, find, sample; a node
//! restarted from its state file still holds the records.

use std::time::Duration;

use sitga_chain::anvil::{AnvilNode, DEV_PRIVATE_KEY};
use sitga_chain::{ChainClient, ChainError, deploy, donor_reference};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn deploy_record_idempotently_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = AnvilNode::start(Some(dir.path().join("state.json")))
        .await
        .unwrap();
    let address = deploy(&node.url(), DEV_PRIVATE_KEY, WAIT).await.unwrap();
    let client = ChainClient::new(&node.url(), DEV_PRIVATE_KEY, address).unwrap();
    let start = client.check().await.unwrap();

    let donor = donor_reference(b"salt", 7);
    let first = client.record(1, donor, 2_500, WAIT).await.unwrap();
    assert!(first.block_number > start);
    // A retry finds the earlier transaction instead of recording twice.
    let again = client.record(1, donor, 2_500, WAIT).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        client.find_recorded(1, donor, 2_500).await.unwrap(),
        Some(first)
    );
    assert_eq!(client.find_recorded(2, donor, 2_500).await.unwrap(), None);
    // The same id with another donation (ids reused after a restore) is not
    // given the first one's proof, and nothing is sent.
    let other = donor_reference(b"salt", 8);
    for (who, grams) in [(other, 2_500), (donor, 2_400)] {
        match client.record(1, who, grams, WAIT).await {
            Err(ChainError::Conflict {
                donation_id: 1,
                tx_hash,
            }) => assert_eq!(tx_hash, first.tx_hash),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    client.record(2, donor, 1_000, WAIT).await.unwrap();

    let sample = client.sample(Some(start)).await.unwrap();
    assert_eq!(sample.donation_count, 2);
    assert_eq!(sample.transactions, 2, "{sample:?}");
    assert_eq!(sample.scanned_to, sample.latest_block);
    let none_new = client.sample(Some(sample.scanned_to)).await.unwrap();
    assert_eq!(none_new.transactions, 0);

    // Down: calls fail with an RPC error. Back from its state: all there.
    node.stop();
    assert!(matches!(
        client.record(3, donor, 100, WAIT).await,
        Err(ChainError::Rpc(_))
    ));
    node.restart().await.unwrap();
    assert_eq!(
        client.find_recorded(1, donor, 2_500).await.unwrap(),
        Some(first)
    );
    client.record(3, donor, 100, WAIT).await.unwrap();
    assert_eq!(client.sample(None).await.unwrap().donation_count, 3);
}

#[tokio::test]
async fn the_refused_keys_are_exactly_anvils_funded_accounts() {
    use alloy::providers::{Provider, ProviderBuilder};
    use alloy::signers::local::PrivateKeySigner;
    let node = AnvilNode::start(None).await.unwrap();
    let provider = ProviderBuilder::new().connect_http(node.url().parse().unwrap());
    let funded = provider.get_accounts().await.unwrap();
    let ours: Vec<_> = sitga_chain::PUBLIC_DEV_KEYS
        .iter()
        .map(|k| k.parse::<PrivateKeySigner>().unwrap().address())
        .collect();
    assert_eq!(funded, ours);
}

#[tokio::test]
async fn a_missing_contract_is_a_config_error() {
    let node = AnvilNode::start(None).await.unwrap();
    let client = ChainClient::new(
        &node.url(),
        DEV_PRIVATE_KEY,
        sitga_chain::parse_address("0x00000000000000000000000000000000000000aa").unwrap(),
    )
    .unwrap();
    assert!(matches!(client.check().await, Err(ChainError::Config(_))));
}
