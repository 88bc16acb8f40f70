// What the shapes world says about a scene in prose: the one-sentence caption (CLIP pretraining,
// the align stage, the matching tasks) and the detailed description (the instruct stage's
// "Give a detailed description of this image.").
//
//   caption      "a large red triangle and a small blue circle on a striped background."
//                Objects left to right, each with size, colour and shape; lower case, one
//                sentence, ending with the background.
//   description  2 or 3 sentences: how many objects on which background; every object with size,
//                colour, shape and rough position (a 3x3 grid: "in the top left", "at the
//                bottom", "in the center"); and, when one exists between two objects that are
//                unique by colour and shape, one clear spatial relation ("The red triangle is to
//                the left of the blue circle.").
//
// Both are functions of the scene alone (no draws), so a scene's texts never change when the
// questions do. Pure functions; thread-safe.
#pragma once

#include <string>

#include "model/synth/shapes_world.h"

namespace lmeye::synth {

// "zero", "one", ... "four" (counts above four do not arise; they are written as digits).
std::string CountWord(int n);

// "red triangle"; with_size: "large red triangle".
std::string ObjectPhrase(const ShapeObject& object, bool with_size);

// Rough position on a 3x3 grid: "in the top left", "at the top", "on the left", "in the
// center", ... "in the bottom right".
std::string PositionPhrase(const ShapeObject& object);

// True when exactly one object of the scene has `object`'s colour and shape, so "the red
// triangle" names it.
bool UniqueByColorShape(const Scene& scene, const ShapeObject& object);

// The objects left to right: "a large red circle, a small blue cross and ... on a plain
// background." (captions.jsonl, the align stage, the LM text).
std::string Caption(const Scene& scene);
// The same phrases in a fixed attribute order (shape, then colour, then size) instead of left to
// right: what the CLIP stage matches against the pooled image vector. Left-to-right order would
// ask that one vector to also encode the objects' order, which captions never need from it and
// which a small tower learns slowly; the binding of attributes is what it must learn.
std::string ClipCaption(const Scene& scene);
std::string Description(const Scene& scene);

}  // namespace lmeye::synth
