// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title sitga coffee-grounds donation registry
/// @notice Records each completed coffee-grounds donation once: an opaque donor
/// reference (a salted hash computed off-chain, never an e-mail or a name),
/// the grams collected, and the platform's donation id (which makes a retried
/// transaction harmless).
contract DonationRegistry {
    /// The only account allowed to record (the sitga server that deployed it).
    address public immutable recorder;
    /// Donations recorded so far.
    uint256 public donationCount;
    /// Grams recorded so far.
    uint256 public totalGrams;
    /// Donation id => recorded.
    mapping(uint256 => bool) public recorded;

    /// Emitted once per donation.
    event DonationRecorded(uint256 indexed donationId, bytes32 indexed donor, uint64 grams, uint256 count);

    error NotRecorder(address caller);
    error AlreadyRecorded(uint256 donationId);
    error NoGrams();

    constructor() {
        recorder = msg.sender;
    }

    /// @notice Records donation `donationId` of `grams` by `donor`.
    function recordDonation(uint256 donationId, bytes32 donor, uint64 grams) external {
        if (msg.sender != recorder) revert NotRecorder(msg.sender);
        if (grams == 0) revert NoGrams();
        if (recorded[donationId]) revert AlreadyRecorded(donationId);
        recorded[donationId] = true;
        donationCount += 1;
        totalGrams += grams;
        emit DonationRecorded(donationId, donor, grams, donationCount);
    }
}
