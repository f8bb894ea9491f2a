"""Write the call scripts (<id>.yaml) and labels.json of the check corpora in this folder.

Each product (car-insurance-renewal, wealth-care-offer) is described below as the agent's
lines per rubric rule, each in a key-phrase wording and a paraphrase (no key phrase of its
rule), the customer's objections and replies, and a plan per call: which agent (plain or
paraphrasing), which sections and points it leaves out, which objections come and whether
they are answered, the outcome, holds, dead air and talking over the customer. The labels
follow from the plan, so they stay true when a line is reworded here.

    python corpus/make_scripts.py            # rewrites corpus/<product>/<id>.yaml + labels.json
    python corpus/make_scripts.py --check    # also lists key phrases found where no label says so

Then synthesize (see corpus/README.md). Deterministic: no random draws.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# car-insurance-renewal (marketing): 安行保险 calls owners whose car insurance ends next month.
CAR = {
    "id": "car",
    "folder": "car-insurance-renewal",
    "names": ["陈先生", "刘女士", "张先生", "黄女士", "周先生", "吴女士"],
    "greeting": ["您好，请问是{name}吗？", "您好，请问您是{name}吧？"],
    "no_greeting": "喂，是{name}吗？",
    "who": ["是我，哪位？", "对，你是哪里？", "嗯，什么事？"],
    "sections": {
        "opening": (
            "我是安行保险的续保专员小陈，耽误您两分钟。",
            "这边是安心出行车险服务中心，我姓陈，打扰您两分钟。",
        ),
        "product_intro": (
            "您的车险下个月就到期了，今年给您准备了新的续保方案。",
            "今天来电是关于您爱车保险的事，保单下个月满期，今年的条件比去年好。",
        ),
        "persuasion": (
            "今年续保比去年更划算，出险理赔也更省心。",
            "同样的保障今年少花钱，出了事一个电话就有人管，您开车也踏实。",
        ),
    },
    "closing": (
        "那我现在就帮您续保，您看可以吗？",
        "要是没问题的话，我这边直接给您把保单生成出来，您看行吗？",
    ),
    "farewell": (
        "感谢您的接听，祝您一路平安，再见。",
        "那就先这样，祝您开车顺顺利利，拜拜。",
    ),
    "points": {
        "premium": (
            "今年的保费三千八百六十元，",
            "今年全年一共交三千八百六十块钱，",
        ),
        "discount": (
            "您去年没有出险，商业险可以打八五折，",
            "因为去年一次都没报过案，商业险只收原价的百分之八十五，",
        ),
        "third_party": (
            "三者险保额是两百万，",
            "撞了别人的车或者人，最多能赔到两百万，",
        ),
        "roadside": (
            "还送全年道路救援，",
            "车子半路抛锚了，我们免费派车过去拖，一年不限次数，",
        ),
    },
    "points_end": ("您看怎么样？", "您觉得呢？"),
    "objections": {
        "too_expensive": {
            "says": ("三千多，有点贵啊。", "一下子三千多，比我想的多。"),
            "answer": (
                "算下来每天才十块钱，比去年还少了两百多。",
                "其实平均到每一天也就十来块钱，比去年那张单子便宜两百多块。",
            ),
        },
        "other_company": {
            "says": ("别家报价比你们便宜。", "另一个公司给我打电话，报的价低一点。"),
            "answer": (
                "我们理赔快，全市有四十个服务网点。",
                "我们这边出了事当天就能把钱赔下来，您附近就有我们的门店。",
            ),
        },
        "think_it_over": {
            "says": ("我再考虑一下吧。", "我得跟我老婆商量商量。"),
            "answer": (
                "这个折扣本月底截止，过了就没有了。",
                "这个价格只到这个月最后一天，下个月就恢复原价了。",
            ),
        },
    },
    "not_answer": "嗯，好的。",
    "success": ("行，那就续保吧。", "好吧，就按你说的弄吧。"),
    "refusal": ("不需要，我已经在别家买了。", "算了吧，这个我自己会处理。"),
    "unknown": ("你晚点再打过来吧，我在开车。",),
    "wrap_success": ("好的，已经给您登记好了，保单会发到您手机上。",),
    "wrap_refusal": ("好的，那不打扰您了。",),
    "wrap_unknown": ("好的，那我晚点再联系您。",),
    "forbidden": {"false_promise": "您放心，保证明年不涨价，"},
    "shirk": "理赔的事不归我管，",
    "hold": ("您稍等，我查一下您的保单。", "让您久等了，"),
    "trap_intro": "今天来电是想帮您把车险续保的事情跟您说一下，",
    "talk_over_tail": "，你们这个价格我真的觉得不太合适。",
}

# wealth-care-offer (care with an offer): 华信银行 calls customers whose wealth product
# matures, checks they know, and offers to reinvest.
WEALTH = {
    "id": "wm",
    "folder": "wealth-care-offer",
    "names": ["孙女士", "李先生", "郑女士", "王先生", "何女士", "赵先生"],
    "greeting": ["您好，请问是{name}吗？", "你好，请问您是{name}吧？"],
    "no_greeting": "喂，请问是{name}吗？",
    "who": ["是我，怎么了？", "对，哪里？", "嗯，你说。"],
    "sections": {
        "opening": (
            "我是华信银行的理财经理小林，打扰您一下。",
            "这边是华信的财富顾问林晓，给您来个电话。",
        ),
        "care_intro": (
            "这次是给您做个到期提醒，您的理财快到期了。",
            "打电话主要是想跟您说一声，您买的那笔理财马上满期了。",
        ),
        "product_intro": (
            "另外给您介绍一款新发行的稳利理财，",
            "这期我们新出了一个稳利系列的产品，",
        ),
    },
    "closing": (
        "我这边帮您预约续投，您看可以吗？",
        "到时候钱到了我这边直接替您转进新的这一期，您看行吗？",
    ),
    "farewell": (
        "感谢您的接听，祝您生活愉快，再见。",
        "那先不占用您时间了，祝您顺心，拜拜。",
    ),
    "points": {
        "maturity": (
            "您那笔理财十月十五号到期，本金和收益会自动回到您的卡上，",
            "钱会在十月十五号那天连本带利回到您银行卡里，",
        ),
        "rate": (
            "新产品业绩比较基准是年化百分之三点二，",
            "新的这一期一年大概能有百分之三点二的回报，",
        ),
        "risk": (
            "这是非保本产品，有一定风险，",
            "提醒您一下，本金也有亏损的可能，",
        ),
        "redemption": (
            "每周二可以赎回，",
            "每个礼拜二都能把钱取出来，",
        ),
    },
    "points_end": ("您看您有兴趣吗？", "您这边考虑一下？"),
    "objections": {
        "low_rate": {
            "says": ("这个收益太低了吧。", "才三点二，还没有我朋友买的那个多。"),
            "answer": (
                "比三年定期高出一个点，算下来十万块一年多拿一千。",
                "放在定期里一年少挣一千来块钱，这个还是多一些的。",
            ),
        },
        "need_money": {
            "says": ("我最近可能要用钱。", "过段时间我家里要装修，得花钱。"),
            "answer": (
                "不影响的，每周二都能赎回，钱随时能拿到。",
                "这个不锁死，要花钱的时候一个礼拜内就能回到卡里。",
            ),
        },
        "fraud_suspect": {
            "says": ("你们不会是骗子吧？", "现在打电话说理财的，我都不太敢信。"),
            "answer": (
                "您可以挂了电话打华信银行官方客服核实。",
                "您不放心的话，拿着银行卡去任何一个网点柜台问一下就知道了。",
            ),
        },
    },
    "not_answer": "哦，这样啊。",
    "success": ("可以，那就续投吧。", "行，就照你说的来。"),
    "refusal": ("不用了，到期我就取出来。", "算了，这个钱我另有安排。"),
    "unknown": ("我现在在开会，你明天再说吧。",),
    "wrap_success": ("好的，已经给您登记好了，到期当天自动转入。",),
    "wrap_refusal": ("好的，那不打扰您了。",),
    "wrap_unknown": ("好的，那我明天再联系您。",),
    "forbidden": {"guaranteed": "您放心，这个肯定稳赚不赔，"},
    "shirk": "收益的事你问柜台吧，",
    "hold": ("您稍等，我看一下您的账户。", "让您久等了，"),
    "trap_intro": "这次来电是想跟您聊聊您那笔理财到期以后怎么续投，",
    "talk_over_tail": "，我存银行定期都比这个强多了。",
}

PRODUCTS = {"car-insurance-renewal": CAR, "wealth-care-offer": WEALTH}

# Plans: one per call. agent: plain (key-phrase wordings) or para (paraphrases).
# skip: rules not said; obj: (objection id, handled?); out: success | refusal | unknown.
# mono / fmt: recording layout; extra: hold (with a reason), dead (9 s dead air), wait
# (unreasonable wait: 稍等 then 17 s), talk_over (agent over the customer by 1.4 s),
# forbidden, shirk, trap (the product intro speaks of the closing's act; no closing said).
PLANS: list[dict] = [
    {"agent": "plain", "skip": [], "obj": [], "out": "success", "fmt": "mp3"},
    {"agent": "para", "skip": [], "obj": [(0, True)], "out": "success", "fmt": "mp3"},
    {
        "agent": "plain",
        "skip": ["closing"],
        "obj": [(2, False)],
        "out": "refusal",
        "trap": 1,
        "fmt": "mp3",
    },
    {
        "agent": "para",
        "skip": ["p3"],
        "obj": [(1, True)],
        "out": "refusal",
        "fmt": "flac",
        "mono": 1,
    },
    {
        "agent": "plain",
        "skip": ["greeting"],
        "obj": [(0, False)],
        "out": "success",
        "extra": ["wait"],
        "fmt": "mp3",
    },
    {
        "agent": "para",
        "skip": ["persuasion"],
        "obj": [],
        "out": "success",
        "extra": ["hold"],
        "fmt": "mp3",
        "mono": 1,
    },
    {
        "agent": "plain",
        "skip": ["p1"],
        "obj": [(1, False)],
        "out": "refusal",
        "extra": ["forbidden"],
        "fmt": "mp3",
    },
    {
        "agent": "para",
        "skip": ["closing"],
        "obj": [(0, True)],
        "out": "unknown",
        "trap": 1,
        "fmt": "mp3",
    },
    {
        "agent": "plain",
        "skip": ["farewell"],
        "obj": [(0, True), (2, True)],
        "out": "success",
        "extra": ["talk_over"],
        "fmt": "flac",
    },
    {
        "agent": "para",
        "skip": ["opening"],
        "obj": [(2, True)],
        "out": "refusal",
        "extra": ["dead"],
        "fmt": "mp3",
        "mono": 1,
    },
    {
        "agent": "plain",
        "skip": ["p2", "p4"],
        "obj": [],
        "out": "success",
        "extra": ["shirk"],
        "fmt": "mp3",
    },
    {"agent": "para", "skip": [], "obj": [(1, True), (0, False)], "out": "success", "fmt": "mp3"},
    {
        "agent": "plain",
        "skip": ["product_intro"],
        "obj": [],
        "out": "refusal",
        "fmt": "mp3",
        "mono": 1,
    },
    {
        "agent": "para",
        "skip": ["p2"],
        "obj": [(2, True)],
        "out": "success",
        "extra": ["hold"],
        "fmt": "mp3",
    },
]


def build_call(prod: dict, n: int, plan: dict) -> tuple[dict, dict]:
    para = plan["agent"] == "para"
    w = 1 if para else 0
    name = prod["names"][n % len(prod["names"])]
    skip = set(plan["skip"])
    point_ids = list(prod["points"])
    skipped_points = {point_ids[int(s[1:]) - 1] for s in skip if s[0] == "p" and s[1:].isdigit()}
    obj_ids = list(prod["objections"])
    extra = set(plan.get("extra", []))
    turns: list[dict] = []
    sections: list[str] = []
    points: list[str] = []
    objections: dict[str, str] = {}
    forbidden: list[str] = []
    attitude: list[str] = []

    def agent(text: str, **kw: float) -> None:
        turns.append({"agent": text, **kw})

    def customer(text: str, **kw: float) -> None:
        turns.append({"customer": text, **kw})

    if "greeting" in skip:
        agent(prod["no_greeting"].format(name=name))
    else:
        agent(prod["greeting"][n % 2].format(name=name))
        sections.append("greeting")
    customer(prod["who"][n % len(prod["who"])])
    for sid, texts in prod["sections"].items():
        if sid == "persuasion":
            continue
        if sid in skip:
            continue
        text = texts[w]
        if sid == "product_intro" and plan.get("trap"):
            text = prod["trap_intro"] + text
        agent(text)
        sections.append(sid)
        customer(["嗯，你说。", "哦。", "嗯。"][len(turns) % 3])
    # the points, two per agent turn
    said = [p for p in point_ids if p not in skipped_points]
    points += said
    lines = [prod["points"][p][w] for p in said]
    if "forbidden" in extra:
        fid, text = next(iter(prod["forbidden"].items()))
        lines.insert(1, text)
        forbidden.append(fid)
    if "shirk" in extra:
        lines.insert(1, prod["shirk"])
        attitude.append("shirk")
    chunks = [lines[i : i + 2] for i in range(0, len(lines), 2)]
    for i, chunk in enumerate(chunks):
        text = "".join(chunk)
        if i == len(chunks) - 1:
            text += prod["points_end"][w]
        else:
            text = text.rstrip("，") + "。"
        agent(text)
        if i == 0 and "hold" in extra:
            customer("这个我的信息对吗？")
            agent(prod["hold"][0])
            turns.append({"pause": 6})
            agent(prod["hold"][1] + "信息都是对的。")
        if i == 0 and "wait" in extra:
            customer("你确认一下我的信息。")
            agent("你等一下。")
            turns.append({"pause": 17})
            agent("好了，信息是对的。")
            attitude.append("unreasonable_wait")
        if i < len(chunks) - 1:
            customer(["嗯，然后呢？", "哦，还有呢？"][i % 2])
    if "dead" in extra:
        turns.append({"pause": 9})
    for k, (oi, handled) in enumerate(plan["obj"]):
        oid = obj_ids[oi]
        o = prod["objections"][oid]
        customer(o["says"][(n + k) % 2])
        if handled:
            kw = {"overlap": 1.4} if "talk_over" in extra and k == 0 else {}
            agent(o["answer"][w], **kw)
        else:
            agent(prod["not_answer"])
        objections[oid] = "handled" if handled else "unhandled"
    if "persuasion" in prod["sections"] and "persuasion" not in skip:
        if plan["obj"]:
            customer("嗯。")
        agent(prod["sections"]["persuasion"][w])
        sections.append("persuasion")
    if "closing" not in skip:
        customer("嗯。") if turns and "agent" in turns[-1] else None
        agent(prod["closing"][w])
        sections.append("closing")
    out = plan["out"]
    customer(prod[out][n % len(prod[out])])
    agent(prod[f"wrap_{out}"][0])
    if "farewell" not in skip:
        agent(prod["farewell"][w])
        sections.append("farewell")
    interruption = "talk_over" in extra and any("overlap" in t for t in turns)
    if "talk_over" in extra:
        # the customer's objection runs on while the agent answers
        for i, t in enumerate(turns):
            if "overlap" in t:
                said = turns[i - 1]["customer"].rstrip("。？")
                turns[i - 1]["customer"] = said + prod["talk_over_tail"]
    order = [*prod["sections"], "closing", "farewell"]
    cid = f"{prod['id']}-{n + 1:03d}"
    mono = bool(plan.get("mono"))
    script = {
        "id": cid,
        "channels": "mono" if mono else "stereo",
        "format": plan["fmt"],
        "sample_rate": 8000,
        "codec": "ulaw",
        "noise": 0.002,
        "end": "normal",
        "turns": turns,
    }
    label = {
        "id": cid,
        "sections": sorted(sections, key=lambda s: (["greeting", *order]).index(s)),
        "points": sorted(points),
        "forbidden": forbidden,
        "attitude": attitude,
        "objections": objections,
        "outcome": out,
        "silence": "dead" in extra or "wait" in extra,
        "interruption": interruption,
        "channels": script["channels"],
        "audio": f"{cid}.{plan['fmt']}",
        "agent": plan["agent"],
    }
    return script, label


def check(folder: Path, scripts: list[dict], labels: list[dict]) -> None:
    """Key phrases of the rubric found in a script where no label says so (exact, normalized)."""
    from qa_service.rules.normalize import normalize
    from qa_service.rules.rubric import load_rubric

    rubric = load_rubric(folder / "rubric.yaml")
    for script, label in zip(scripts, labels):
        agent = [normalize(t["agent"]) for t in script["turns"] if "agent" in t]
        said = set(label["sections"]) | set(label["points"]) | set(label["forbidden"])
        said |= set(label["attitude"])
        for rule in (
            *rubric.script_sections,
            *rubric.mandatory_points,
            *rubric.forbidden_phrases,
            *rubric.attitude_errors,
        ):
            hit = any(normalize(p) in a for p in rule.any for a in agent)
            if hit and rule.id not in said:
                print(f"{script['id']}: key phrase of {rule.id} said, not labelled")
            if label["agent"] == "plain" and rule.id in said and not hit and not rule.check:
                print(f"{script['id']}: plain agent says {rule.id} without a key phrase")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    for folder_name, prod in PRODUCTS.items():
        folder = HERE / folder_name
        folder.mkdir(exist_ok=True)
        scripts, labels = [], []
        for n, plan in enumerate(PLANS):
            script, label = build_call(prod, n, plan)
            scripts.append(script)
            labels.append(label)
            (folder / f"{script['id']}.yaml").write_text(
                yaml.safe_dump(script, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        (folder / "labels.json").write_text(
            json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        if args.check:
            check(folder, scripts, labels)


if __name__ == "__main__":
    main()
