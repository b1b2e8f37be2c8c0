"""The mask stage: prompts from landmarks, refinement with image evidence, and selection among candidates.

    prompts.py     detections -> expanded boxes, landmark-shaped priors, point prompts, wrist limits, what is sure
    skeleton.py    a hand's 20 bones: as points (coverage) and drawn (certain foreground)
    faces.py       a face's smooth outline, priors and offline refinement to the hairline
    refine.py      a prior -> a mask that follows the photo (the offline backend's hands)
    silhouette.py  where the person ends (selfie segmentation): certain background around a hand
    selection.py   a backend's candidates -> each instance's mask, chosen, settled by the photo, repaired
    judge.py       how well one candidate is one instance: parts held, cost of its pixels, a shell's colours
    nesting.py     SAM's looser cuts of one object (a rim, a filled hull or box), recognised by their shape
    colour.py      a per-photo colour model of one instance against its surroundings
"""
