"""The mask stage: prompts from landmarks, refinement with image evidence, and selection among candidates.

    prompts.py    detections -> expanded boxes, landmark-shaped priors, point prompts, wrist limits
    refine.py     a prior -> a mask that follows the photo (the offline backend's answer)
    selection.py  a backend's candidates -> each instance's mask, judged by its landmarks
"""
