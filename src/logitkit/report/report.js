/* logitkit report: the threshold explorer. No network, no dependencies. */
(function () {
  "use strict";
  var node = document.getElementById("lk-explorer-data");
  var slider = document.getElementById("ex-slider");
  if (!node || !slider) {
    return;
  }
  var data = JSON.parse(node.textContent);

  // Index of the first value >= t in an ascending array: rows below t are not flagged.
  function lowerBound(values, t) {
    var lo = 0;
    var hi = values.length;
    while (lo < hi) {
      var mid = (lo + hi) >>> 1;
      if (values[mid] < t) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  function stripZeros(text) {
    if (text.indexOf(".") < 0) {
      return text;
    }
    return text.replace(/0+$/, "").replace(/\.$/, "");
  }

  // Python's format(x, ".{p}g").
  function formatG(x, p) {
    var parts = x.toExponential(p - 1).split("e");
    var exp = parseInt(parts[1], 10);
    if (exp < -4 || exp >= p) {
      var size = Math.abs(exp);
      return stripZeros(parts[0]) + "e" + (exp < 0 ? "-" : "+") + (size < 10 ? "0" : "") + size;
    }
    return stripZeros(x.toFixed(Math.max(p - 1 - exp, 0)));
  }

  function fmtNum(x) {
    if (x === null || !isFinite(x)) {
      return "n/a";
    }
    return x === 0 ? "0" : formatG(x, 3);
  }

  // The same as fmt_prob in logitkit/report/_html.py.
  function fmtProb(x) {
    if ((x >= 0.01 && x <= 0.99) || x === 0 || x === 1) {
      return x.toFixed(3);
    }
    if (x < 0.01) {
      return formatG(x, 2);
    }
    var decimals = Math.max(3, -Math.floor(Math.log10(1 - x)) + 1);
    return x.toFixed(decimals);
  }

  function pct(x) {
    return (100 * x).toFixed(1) + "%";
  }

  function ratio(num, den) {
    return den > 0 ? fmtNum(num / den) : "n/a";
  }

  function show(id, text) {
    var target = document.getElementById(id);
    if (target) {
      target.textContent = text;
    }
  }

  function update() {
    var t = data.grid[parseInt(slider.value, 10)];
    var tp = data.pos.length - lowerBound(data.pos, t);
    var fp = data.neg.length - lowerBound(data.neg, t);
    var fn = data.pos.length - tp;
    var tn = data.neg.length - fp;
    var n = tp + fp + fn + tn;
    var shown = fmtProb(t);
    slider.setAttribute("aria-valuetext", shown);
    show("ex-threshold", shown);
    show("ex-tp", String(tp));
    show("ex-fn", String(fn));
    show("ex-fp", String(fp));
    show("ex-tn", String(tn));
    show("ex-recall", ratio(tp, tp + fn));
    show("ex-precision", ratio(tp, tp + fp));
    show("ex-fpr", ratio(fp, fp + tn));
    show("ex-flagged", tp + fp + " of " + n + " (" + (n > 0 ? pct((tp + fp) / n) : "n/a") + ")");
    if (data.costs) {
      var c = data.costs;
      var total = c.cost_fp * fp + c.cost_fn * fn - c.benefit_tp * tp - c.benefit_tn * tn;
      show("ex-cost", n > 0 ? fmtNum(total / n) : "n/a");
    }
    show(
      "ex-sentence",
      "At threshold " + shown + ", " + tp + " of " + (tp + fn) + " " + data.positive +
        " rows are flagged and " + fn + " missed; " + fp + " of " + (fp + tn) + " " +
        data.negative + " rows are flagged by mistake."
    );
  }

  function jumpTo(index) {
    slider.value = String(index);
    update();
    slider.focus();
  }

  slider.addEventListener("input", update);
  slider.addEventListener("change", update);
  var toPolicy = document.getElementById("ex-to-policy");
  if (toPolicy) {
    toPolicy.addEventListener("click", function () {
      jumpTo(data.start);
    });
  }
  var toDefault = document.getElementById("ex-to-default");
  if (toDefault) {
    toDefault.addEventListener("click", function () {
      jumpTo(data["default"]);
    });
  }
  update();
})();
