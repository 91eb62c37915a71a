//! How well a model names the photos of a labelled folder: overall top-1,
//! the mean of the per-class recalls (so a rare species counts as much as
//! a common one), how often it says "unknown", and whom each class is
//! mistaken for.

use serde::{Deserialize, Serialize};

use crate::Label;

/// One photo's truth and the model's probabilities for it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The photo's class index.
    pub truth: usize,
    /// The model's class probabilities.
    pub probabilities: Vec<f32>,
}

/// A class the photos of another class were taken for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Confusion {
    /// The class they were taken for (Latin name).
    pub label: String,
    /// How many photos.
    pub photos: usize,
}

/// One class's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassMetrics {
    /// Latin name.
    pub label: String,
    /// Photos of it.
    pub photos: usize,
    /// Share of them named right (top-1), `None` with no photos.
    pub recall: Option<f64>,
    /// Of them, answered "unknown".
    pub unknown: usize,
    /// Most frequent wrong answers, most frequent first (at most 3).
    pub confused_with: Vec<Confusion>,
}

/// A model's figures over a set of photos.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Photos scored.
    pub photos: usize,
    /// Share whose top answer is their class.
    pub top1: f64,
    /// Mean recall over the classes that have photos.
    pub mean_recall: f64,
    /// Share answered "unknown" (top probability under the threshold).
    pub unknown_rate: f64,
    /// Top-1 among the photos not answered "unknown".
    pub top1_when_named: f64,
    /// The threshold these figures used.
    pub unknown_threshold: f32,
    /// Per class, in label order.
    pub classes: Vec<ClassMetrics>,
}

/// The best index and probability of a probability vector.
pub fn best(probabilities: &[f32]) -> (usize, f32) {
    probabilities
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Scores `outcomes` against `labels` with `threshold`.
pub fn score(labels: &[Label], threshold: f32, outcomes: &[Outcome]) -> Metrics {
    let n = labels.len();
    let mut confusion = vec![vec![0usize; n]; n];
    let mut unknown_by_class = vec![0usize; n];
    let (mut unknown, mut named, mut named_right) = (0usize, 0usize, 0usize);
    for outcome in outcomes.iter().filter(|o| o.truth < n) {
        let (guess, p) = best(&outcome.probabilities);
        let guess = guess.min(n - 1);
        confusion[outcome.truth][guess] += 1;
        if p < threshold {
            unknown += 1;
            unknown_by_class[outcome.truth] += 1;
        } else {
            named += 1;
            named_right += usize::from(guess == outcome.truth);
        }
    }
    let photos: usize = confusion.iter().flatten().sum();
    let right: usize = (0..n).map(|i| confusion[i][i]).sum();
    let classes: Vec<ClassMetrics> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let row = &confusion[i];
            let count: usize = row.iter().sum();
            let wrong = row
                .iter()
                .enumerate()
                .map(|(j, c)| if j == i { 0 } else { *c });
            ClassMetrics {
                label: label.latin.clone(),
                photos: count,
                recall: (count > 0).then(|| share(row[i], count)),
                unknown: unknown_by_class[i],
                confused_with: most_frequent(labels, wrong),
            }
        })
        .collect();
    let recalls: Vec<f64> = classes.iter().filter_map(|c| c.recall).collect();
    Metrics {
        photos,
        top1: share(right, photos),
        mean_recall: if recalls.is_empty() {
            0.0
        } else {
            recalls.iter().sum::<f64>() / recalls.len() as f64
        },
        unknown_rate: share(unknown, photos),
        top1_when_named: share(named_right, named),
        unknown_threshold: threshold,
        classes,
    }
}

/// How a model answers photos of fish it was not trained on (other
/// species, other cameras): each should be answered "unknown".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpenSet {
    /// Photos scored.
    pub photos: usize,
    /// Share answered "unknown" (top probability under the threshold): the
    /// higher, the better.
    pub unknown_rate: f64,
    /// The threshold these figures used.
    pub unknown_threshold: f32,
    /// The species the others were named as, most frequent first (at most
    /// 3).
    pub named_as: Vec<Confusion>,
}

/// Scores the probabilities a model gave photos of no class it knows.
pub fn score_open_set(labels: &[Label], threshold: f32, probabilities: &[Vec<f32>]) -> OpenSet {
    let mut named = vec![0usize; labels.len()];
    let mut unknown = 0usize;
    for p in probabilities {
        let (guess, top) = best(p);
        if top < threshold {
            unknown += 1;
        } else if let Some(count) = named.get_mut(guess) {
            *count += 1;
        }
    }
    OpenSet {
        photos: probabilities.len(),
        unknown_rate: share(unknown, probabilities.len()),
        unknown_threshold: threshold,
        named_as: most_frequent(labels, named.into_iter()),
    }
}

/// The (at most) three classes with the highest counts (`counts` in label
/// order), most frequent first, ties in label order; zero counts left out.
fn most_frequent(labels: &[Label], counts: impl Iterator<Item = usize>) -> Vec<Confusion> {
    let mut ranked: Vec<(usize, usize)> = counts.enumerate().filter(|(_, c)| *c > 0).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(3)
        .filter_map(|(j, photos)| {
            Some(Confusion {
                label: labels.get(j)?.latin.clone(),
                photos,
            })
        })
        .collect()
}

/// The highest threshold under which at most `max_unknown` of `outcomes`
/// are answered "unknown" (their top probabilities' `max_unknown`
/// quantile), never above 0.99.
pub fn threshold_for(outcomes: &[Outcome], max_unknown: f64) -> f32 {
    let mut tops: Vec<f32> = outcomes.iter().map(|o| best(&o.probabilities).1).collect();
    if tops.is_empty() {
        return 0.5;
    }
    tops.sort_by(f32::total_cmp);
    // Photos strictly under the threshold are unknown: at most `allowed`.
    let allowed = (max_unknown.clamp(0.0, 1.0) * tops.len() as f64).floor() as usize;
    tops.get(allowed).copied().unwrap_or(1.0).min(0.99)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<Label> {
        ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(index, l)| Label {
                index,
                latin: (*l).into(),
                name_en: (*l).into(),
                name_ko: None,
                folder: None,
            })
            .collect()
    }

    fn outcome(truth: usize, probabilities: [f32; 3]) -> Outcome {
        Outcome {
            truth,
            probabilities: probabilities.to_vec(),
        }
    }

    #[test]
    fn rare_classes_weigh_as_much_as_common_ones() {
        let outcomes = vec![
            outcome(0, [0.9, 0.05, 0.05]),
            outcome(0, [0.8, 0.1, 0.1]),
            outcome(0, [0.7, 0.2, 0.1]),
            outcome(0, [0.4, 0.3, 0.3]),
            outcome(1, [0.6, 0.3, 0.1]),
        ];
        let m = score(&labels(), 0.5, &outcomes);
        assert_eq!(m.photos, 5);
        assert!((m.top1 - 0.8).abs() < 1e-9);
        // a: 4/4, b: 0/1, c has no photos and does not count.
        assert!((m.mean_recall - 0.5).abs() < 1e-9);
        assert!((m.unknown_rate - 0.2).abs() < 1e-9);
        // Of the four named, three are right.
        assert!((m.top1_when_named - 0.75).abs() < 1e-9);
        assert_eq!(m.classes[1].recall, Some(0.0));
        assert_eq!(m.classes[2].recall, None);
        assert_eq!(
            m.classes[1].confused_with,
            vec![Confusion {
                label: "a".into(),
                photos: 1
            }]
        );
        assert_eq!(m.classes[0].unknown, 1);
    }

    #[test]
    fn other_fish_should_be_answered_unknown() {
        let probabilities = vec![
            vec![0.3, 0.3, 0.4],
            vec![0.45, 0.1, 0.45],
            vec![0.1, 0.8, 0.1],
            vec![0.0, 0.9, 0.1],
            vec![0.6, 0.2, 0.2],
        ];
        let o = score_open_set(&labels(), 0.5, &probabilities);
        assert_eq!(o.photos, 5);
        assert!((o.unknown_rate - 0.4).abs() < 1e-9);
        assert_eq!(
            o.named_as,
            vec![
                Confusion {
                    label: "b".into(),
                    photos: 2
                },
                Confusion {
                    label: "a".into(),
                    photos: 1
                }
            ]
        );
        assert_eq!(score_open_set(&labels(), 0.5, &[]).unknown_rate, 0.0);
    }

    #[test]
    fn the_threshold_leaves_at_most_the_allowed_share_unknown() {
        let outcomes: Vec<Outcome> = (0..100)
            .map(|i| outcome(0, [i as f32 / 100.0, 0.0, 0.0]))
            .collect();
        let t = threshold_for(&outcomes, 0.05);
        let m = score(&labels(), t, &outcomes);
        assert!(m.unknown_rate <= 0.05, "{}", m.unknown_rate);
        assert!(m.unknown_rate >= 0.04, "{}", m.unknown_rate);
        assert!((threshold_for(&outcomes, 0.0) - 0.0).abs() < 1e-9);
        assert!(threshold_for(&[], 0.05) > 0.0);
    }
}
